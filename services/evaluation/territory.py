"""Where a commune lies: its département and EPCI, from the vendored INSEE geography.

The geography is the directory's vendored copy (`services/directory/data/geo/`, Etalab
"découpage administratif", Licence Ouverte; see its PROVENANCE.md), read once per process;
the referral service reads it the same way. EPCI is a column of its communes.csv.
"""

from __future__ import annotations

from functools import cache

from services.directory.geo import load
from services.evaluation.projections.facts import NO_TERRITORY, TerritoryOf


@cache
def commune_territories() -> dict[str, tuple[str, str]]:
    geography = load()
    return {code: (c.departement, c.epci or "") for code, c in geography.communes.items()}


def territory_lookup() -> TerritoryOf:
    """commune code -> (département, EPCI); an unknown code keeps its first two characters."""
    table = commune_territories()

    def territory_of(commune: str) -> tuple[str, str]:
        found = table.get(commune)
        if found is not None:
            return found
        if not commune:
            return NO_TERRITORY
        return (commune[:3] if commune.startswith("97") else commune[:2], "")

    return territory_of
