"""Territory checks on input: communes and (level, code) pairs must exist."""

from __future__ import annotations

from contracts.base import Territory, TerritoryLevel
from services.directory.geo import Commune, load
from services.kit.errors import ApiError


def suggestions(query: str) -> list[dict[str, object]]:
    return [
        {"code": c.code, "name": c.name, "postcodes": list(c.postcodes)}
        for c in load().suggest(query)
    ]


def check_commune(code: str) -> Commune:
    """The commune, or a 422 naming the closest communes."""
    commune = load().commune(code)
    if commune is None:
        raise ApiError(422, "geo.unknown_commune", details=suggestions(code), value=code)
    return commune


def territory_exists(territory: Territory) -> bool:
    geo, code = load(), territory.code
    if territory.level == TerritoryLevel.commune:
        return geo.commune(code) is not None
    if territory.level == TerritoryLevel.epci:
        return code in geo.epcis
    if territory.level == TerritoryLevel.departement:
        return code in geo.departements
    if territory.level == TerritoryLevel.region:
        return code in geo.regions
    return code == "FR"


def check_territories(territories: list[Territory]) -> None:
    for territory in territories:
        if not territory_exists(territory):
            raise ApiError(
                422,
                "geo.unknown_territory",
                level=territory.level.value,
                value=territory.code,
                details=suggestions(territory.code)
                if territory.level == TerritoryLevel.commune
                else None,
            )
