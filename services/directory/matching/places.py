"""What the geography says about containment, derived once per `Geography`: which communes
and EPCIs are in a département, which départements an EPCI touches; and the commune
autocomplete (name prefix, accent- and case-insensitive; postcode; INSEE code).
"""

from __future__ import annotations

import heapq
import threading
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

from services.directory.geo import Commune, Geography

ARTICLES = ("l ", "le ", "la ", "les ")
ABBREVIATIONS = {"st": "saint", "ste": "sainte"}


def fold(text: str) -> str:
    """Lower-case ASCII words: "Saint-Étienne" -> "saint etienne"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    for sign in "-'’":
        plain = plain.replace(sign, " ")
    return " ".join(plain.lower().split())


def fold_query(text: str) -> str:
    """`fold`, with "St"/"Ste" spelt out unless still being typed (the last word)."""
    words = fold(text).split(" ")
    words = [ABBREVIATIONS.get(w, w) for w in words[:-1]] + words[-1:]
    return " ".join(words)


@dataclass(frozen=True)
class Places:
    geo: Geography
    region_departements: dict[str, tuple[str, ...]]
    region_epcis: dict[str, tuple[str, ...]]
    departement_communes: dict[str, tuple[Commune, ...]]
    departement_epcis: dict[str, tuple[str, ...]]
    epci_communes: dict[str, tuple[Commune, ...]]
    epci_departements: dict[str, tuple[str, ...]]
    epci_regions: dict[str, tuple[str, ...]]
    names: list[tuple[str, str]]  # (folded name, commune code), sorted
    postcodes: list[tuple[str, str]]  # (postcode, commune code), sorted

    def population(self, level: str, code: str) -> int:
        """A territory's population: a département's communes; an EPCI's from epci.csv."""
        if level == "commune":
            commune = self.geo.commune(code)
            return commune.population if commune else 0
        if level == "epci":
            area = self.geo.epcis.get(code)
            if area and area.population:
                return area.population
            return sum(c.population for c in self.epci_communes.get(code, ()))
        if level == "departement":
            return sum(c.population for c in self.departement_communes.get(code, ()))
        if level == "region":
            return sum(self.population("departement", d) for d in self.region_departements[code])
        return sum(c.population for c in self.geo.communes.values())

    def search(self, query: str, limit: int = 20) -> list[Commune]:
        """Communes whose name starts with `query` (articles optional: "havre" finds Le Havre),
        whose postcode starts with it, or whose INSEE code it is; most populous first."""
        communes = self.geo.communes
        text = query.strip()
        found: dict[str, Commune] = {}
        exact = communes.get(text.upper())
        if exact is not None:
            found[exact.code] = exact
        if text.isdigit():
            lo = bisect_left(self.postcodes, (text, ""))
            for postcode, code in self.postcodes[lo:]:
                if not postcode.startswith(text):
                    break
                found.setdefault(code, communes[code])
        else:
            prefix = fold_query(text)
            if prefix:
                lo = bisect_left(self.names, (prefix, ""))
                for name, code in self.names[lo:]:
                    if not name.startswith(prefix):
                        break
                    found.setdefault(code, communes[code])
        first = [exact] if exact is not None else []
        rest = heapq.nsmallest(
            limit,
            (c for c in found.values() if c is not exact),
            key=lambda c: (-c.population, c.name, c.code),
        )
        return (first + rest)[:limit]


_CACHE: dict[int, Places] = {}
_LOCK = threading.Lock()


def places(geo: Geography) -> Places:
    """The derived view of `geo`, built once (geographies are loaded once and kept)."""
    found = _CACHE.get(id(geo))
    if found is not None and found.geo is geo:
        return found
    with _LOCK:
        found = _CACHE.get(id(geo))
        if found is None or found.geo is not geo:
            found = _CACHE[id(geo)] = _build(geo)
        return found


def _build(geo: Geography) -> Places:
    region_deps: dict[str, set[str]] = {}
    region_epcis: dict[str, set[str]] = {}
    dep_communes: dict[str, list[Commune]] = {}
    dep_epcis: dict[str, set[str]] = {}
    epci_communes: dict[str, list[Commune]] = {}
    epci_deps: dict[str, set[str]] = {}
    epci_regions: dict[str, set[str]] = {}
    names: list[tuple[str, str]] = []
    postcodes: list[tuple[str, str]] = []
    for commune in sorted(geo.communes.values(), key=lambda c: c.code):
        region_deps.setdefault(commune.region, set()).add(commune.departement)
        dep_communes.setdefault(commune.departement, []).append(commune)
        if commune.epci:
            region_epcis.setdefault(commune.region, set()).add(commune.epci)
            dep_epcis.setdefault(commune.departement, set()).add(commune.epci)
            epci_communes.setdefault(commune.epci, []).append(commune)
            epci_deps.setdefault(commune.epci, set()).add(commune.departement)
            epci_regions.setdefault(commune.epci, set()).add(commune.region)
        name = fold(commune.name)
        names.append((name, commune.code))
        for article in ARTICLES:
            if name.startswith(article):
                names.append((name[len(article) :], commune.code))
        postcodes.extend((postcode, commune.code) for postcode in commune.postcodes)
    return Places(
        geo=geo,
        region_departements={k: tuple(sorted(v)) for k, v in region_deps.items()},
        region_epcis={k: tuple(sorted(v)) for k, v in region_epcis.items()},
        departement_communes={k: tuple(v) for k, v in dep_communes.items()},
        departement_epcis={k: tuple(sorted(v)) for k, v in dep_epcis.items()},
        epci_communes={k: tuple(v) for k, v in epci_communes.items()},
        epci_departements={k: tuple(sorted(v)) for k, v in epci_deps.items()},
        epci_regions={k: tuple(sorted(v)) for k, v in epci_regions.items()},
        names=sorted(names),
        postcodes=sorted(set(postcodes)),
    )
