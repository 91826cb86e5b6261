"""Coverage: for each territory of a région, how many offers of each kind at each stage cover
it, and the gaps (none), ranked by the population left without one.

An offer covers a territory when it is placed on it or on a territory containing it: an offer
on the région covers every département of it, an offer on a département every EPCI in it (an
EPCI straddling départements or régions counts as in each one any of its communes is in).
Offers placed inside a territory (an EPCI or communes of a département) cover it only in part:
they are counted apart (`partial`) and the population of the communes they reach is not
counted as left without an offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.directory.geo import Commune, Geography
from services.directory.matching.index import NATIONAL, Key, OfferIndex
from services.directory.matching.places import Places, places
from services.directory.vocabulary import OFFER_KINDS, STAGES

BY = ("departement", "epci")


class UnknownTerritory(LookupError):
    def __init__(self, level: str, code: str) -> None:
        super().__init__(f"{level} {code}")
        self.level, self.code = level, code


@dataclass(frozen=True, slots=True)
class Place:
    level: str
    code: str
    name: str
    population: int


@dataclass(frozen=True, slots=True)
class Gap:
    territory: Place
    stage: str
    kind: str
    partial_offers: int  # offers placed inside the territory, covering part of it
    population_without_offer: int


@dataclass(frozen=True, slots=True)
class CoverageRow:
    territory: Place
    counts: dict[str, dict[str, int]]  # stage -> kind -> offers covering the whole territory
    partial: dict[str, dict[str, int]]  # stage -> kind -> offers covering part of it


@dataclass(frozen=True, slots=True)
class Coverage:
    region: Place
    by: str
    stages: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: tuple[CoverageRow, ...]
    gaps: tuple[Gap, ...]


Cell = tuple[str, str]  # (stage, kind)


def coverage(index: OfferIndex, geo: Geography, region: str, by: str = "departement") -> Coverage:
    """The territory × stage × kind matrix of a région and its gaps (cached on the index)."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    where = places(geo)
    if region not in where.region_departements:
        raise UnknownTerritory("region", region)
    cache_key = ("coverage", id(geo), region, by)
    cached: Coverage | None = index.cache.get(cache_key)
    if cached is not None:
        return cached
    stages, kinds = tuple(STAGES), tuple(OFFER_KINDS)
    stage_order = {s: i for i, s in enumerate(stages)}
    kind_order = {k: i for i, k in enumerate(kinds)}
    rows: list[CoverageRow] = []
    gaps: list[Gap] = []
    for place, whole, inside, communes in _territories(where, region, by):
        full: dict[Cell, set[str]] = {}
        for key in whole:
            for entry in index.at(*key):
                for stage in entry.stages:
                    full.setdefault((stage, entry.kind), set()).add(entry.id)
        part: dict[Cell, set[str]] = {}
        reached: dict[Cell, set[str]] = {}
        for key, codes in inside:
            for entry in index.at(*key):
                for stage in entry.stages:
                    cell = (stage, entry.kind)
                    if entry.id in full.get(cell, ()):
                        continue
                    part.setdefault(cell, set()).add(entry.id)
                    reached.setdefault(cell, set()).update(codes)
        counts = {s: {k: len(full.get((s, k), ())) for k in kinds} for s in stages}
        partial = {s: {k: len(part.get((s, k), ())) for k in kinds} for s in stages}
        rows.append(CoverageRow(place, counts, partial))
        for stage in stages:
            for kind in kinds:
                if counts[stage][kind]:
                    continue
                covered = reached.get((stage, kind))
                if covered:
                    left = sum(c.population for c in communes if c.code not in covered)
                    if len(covered) >= len(communes):
                        continue  # every commune has an offer of its own
                else:
                    left = place.population
                gaps.append(Gap(place, stage, kind, partial[stage][kind], left))
    gaps.sort(
        key=lambda g: (
            -g.population_without_offer,
            g.territory.code,
            stage_order[g.stage],
            kind_order[g.kind],
        )
    )
    result = Coverage(
        Place("region", region, geo.name_of("region", region), where.population("region", region)),
        by,
        stages,
        kinds,
        tuple(rows),
        tuple(gaps),
    )
    index.cache[cache_key] = result
    return result


Territory = tuple[Place, list[Key], list[tuple[Key, tuple[str, ...]]], tuple[Commune, ...]]


def _territories(where: Places, region: str, by: str) -> Iterable[Territory]:
    """(place, keys covering it whole, keys inside it with the communes they reach, communes)."""
    geo = where.geo
    if by == "departement":
        for dep in where.region_departements[region]:
            communes = where.departement_communes[dep]
            in_dep = {c.code for c in communes}
            whole: list[Key] = [NATIONAL, ("region", region), ("departement", dep)]
            inside: list[tuple[Key, tuple[str, ...]]] = [
                (
                    ("epci", epci),
                    tuple(c.code for c in where.epci_communes[epci] if c.code in in_dep),
                )
                for epci in where.departement_epcis.get(dep, ())
            ]
            inside += [(("commune", c.code), (c.code,)) for c in communes]
            place = Place(
                "departement",
                dep,
                geo.name_of("departement", dep),
                where.population("departement", dep),
            )
            yield place, whole, inside, communes
        return
    for epci in where.region_epcis.get(region, ()):
        communes = where.epci_communes[epci]
        whole = [NATIONAL]
        whole += [("region", r) for r in where.epci_regions[epci]]
        whole += [("departement", d) for d in where.epci_departements[epci]]
        whole.append(("epci", epci))
        inside = [(("commune", c.code), (c.code,)) for c in communes]
        place = Place("epci", epci, geo.name_of("epci", epci), where.population("epci", epci))
        yield place, whole, inside, communes
