"""French administrative geography (INSEE codes), loaded once from the vendored CSV files.

A commune resolves to its EPCI, département and région; unknown codes get suggestions
(close names, or communes sharing a postcode). Pure lookups, no I/O after `load()`.
"""

from __future__ import annotations

import csv
import difflib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from contracts.base import Territory, TerritoryLevel

DATA_DIR = Path(__file__).parent / "data" / "geo"


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    departement: str
    region: str
    epci: str | None
    postcodes: tuple[str, ...]
    population: int

    def territories(self) -> list[Territory]:
        """Every territory that contains this commune, smallest first."""
        levels = [(TerritoryLevel.commune, self.code)]
        if self.epci:
            levels.append((TerritoryLevel.epci, self.epci))
        levels += [
            (TerritoryLevel.departement, self.departement),
            (TerritoryLevel.region, self.region),
            (TerritoryLevel.national, "FR"),
        ]
        return [Territory(level=level, code=code) for level, code in levels]


@dataclass(frozen=True)
class Area:
    """An EPCI, a département or a région: its name, parent région and population."""

    code: str
    name: str
    region: str | None
    population: int


@dataclass(frozen=True)
class Geography:
    communes: dict[str, Commune]
    by_postcode: dict[str, list[str]]
    folded_names: dict[str, list[str]]
    epcis: dict[str, Area]
    departements: dict[str, Area]
    regions: dict[str, Area]

    def name_of(self, level: str, code: str) -> str:
        """A territory's name for people (the code itself when unknown)."""
        if level == "commune":
            commune = self.commune(code)
            return commune.name if commune else code
        table = {"epci": self.epcis, "departement": self.departements, "region": self.regions}
        area = table.get(level, {}).get(code)
        return area.name if area else ("France" if level == "national" else code)

    def commune(self, code: str) -> Commune | None:
        return self.communes.get(code.strip().upper())

    def suggest(self, query: str, limit: int = 5) -> list[Commune]:
        """Closest communes for a mistyped code, a postcode or a name."""
        text = query.strip()
        if text.isdigit() and text in self.by_postcode:
            return [self.communes[c] for c in self.by_postcode[text][:limit]]
        if len(text) == 5 and text[:2].isalnum():
            close = difflib.get_close_matches(
                text.upper(), self.communes.keys(), n=limit, cutoff=0.6
            )
            if close:
                return [self.communes[c] for c in close]
        names = difflib.get_close_matches(
            _fold(text), self.folded_names.keys(), n=limit, cutoff=0.7
        )
        found = [self.communes[c] for name in names for c in self.folded_names[name]]
        return sorted(found, key=lambda c: -c.population)[:limit]


def _fold(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().replace("-", " ").replace("'", " ").split())


@cache
def load(directory: Path = DATA_DIR) -> Geography:
    communes: dict[str, Commune] = {}
    by_postcode: dict[str, list[str]] = {}
    folded: dict[str, list[str]] = {}
    with (directory / "communes.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            commune = Commune(
                code=row["code_insee"],
                name=row["nom"],
                departement=row["departement"],
                region=row["region"],
                epci=row["epci"] or None,
                postcodes=tuple(p for p in row["codes_postaux"].split(";") if p),
                population=int(row["population"] or 0),
            )
            communes[commune.code] = commune
            for postcode in commune.postcodes:
                by_postcode.setdefault(postcode, []).append(commune.code)
            folded.setdefault(_fold(commune.name), []).append(commune.code)
    population: dict[tuple[str, str], int] = {}
    for commune in communes.values():
        for key in (("departement", commune.departement), ("region", commune.region)):
            population[key] = population.get(key, 0) + commune.population
    epcis = {
        row["siren"]: Area(row["siren"], row["nom"], None, int(row["population"] or 0))
        for row in _rows(directory / "epci.csv")
    }
    departements = {
        row["code"]: Area(
            row["code"], row["nom"], row["region"], population.get(("departement", row["code"]), 0)
        )
        for row in _rows(directory / "departements.csv")
    }
    regions = {
        row["code"]: Area(row["code"], row["nom"], None, population.get(("region", row["code"]), 0))
        for row in _rows(directory / "regions.csv")
    }
    return Geography(communes, by_postcode, folded, epcis, departements, regions)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
