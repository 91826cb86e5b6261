"""Territories both ways between Relais (level, code) pairs and data·inclusion zones.

data·inclusion's `zone_eligibilite` takes commune, EPCI (SIREN), département and country
codes, and `france` for the whole country, but no région codes (`32` would read as the Gers
département): a région is written as its départements, and read back as the région when all
of its départements are there.
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts.base import Territory, TerritoryLevel
from services.directory.geo import load

NATIONAL = "france"


def zone_eligibilite(territories: Iterable[Territory]) -> list[str]:
    """INSEE codes data·inclusion accepts: a région becomes its départements."""
    geo, codes = load(), []
    rank = {level: i for i, level in enumerate(TerritoryLevel)}
    for territory in sorted(territories, key=lambda t: (rank[t.level], t.code)):
        if territory.level == TerritoryLevel.national:
            return [NATIONAL]
        if territory.level == TerritoryLevel.region:
            codes += sorted(d.code for d in geo.departements.values() if d.region == territory.code)
        else:
            codes.append(territory.code)
    return list(dict.fromkeys(codes))


def territories_from_zone(codes: list[str]) -> tuple[list[Territory], list[str]]:
    """Relais territories from data·inclusion codes, and the codes that were dropped."""
    geo = load()
    found: list[Territory] = []
    dropped: list[str] = []
    for raw in codes:
        code = raw.strip().upper()
        if code in (NATIONAL.upper(), "99100"):
            return [Territory(level=TerritoryLevel.national, code="FR")], dropped
        if len(code) == 9 and code in geo.epcis:
            found.append(Territory(level=TerritoryLevel.epci, code=code))
        elif len(code) == 5 and geo.commune(code) is not None:
            found.append(Territory(level=TerritoryLevel.commune, code=code))
        elif len(code) in (2, 3) and code in geo.departements:
            found.append(Territory(level=TerritoryLevel.departement, code=code))
        else:
            dropped.append(raw)
    return compact_regions(found), dropped


def compact_regions(territories: list[Territory]) -> list[Territory]:
    """All the départements of a région become that région (the reverse of the export)."""
    geo = load()
    departements = {t.code for t in territories if t.level == TerritoryLevel.departement}
    kept = list(territories)
    regions = {geo.departements[d].region for d in departements}
    for region in sorted(r for r in regions if r is not None):
        members = {d.code for d in geo.departements.values() if d.region == region}
        if members <= departements:
            kept = [t for t in kept if not (t.level == "departement" and t.code in members)]
            kept.append(Territory(level=TerritoryLevel.region, code=str(region)))
    return list(dict.fromkeys(kept))
