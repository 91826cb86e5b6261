"""The vendored geography: communes resolve to their territories; typos get suggestions."""

from __future__ import annotations

from contracts.base import TerritoryLevel
from services.directory.geo import load


def test_amiens_resolves_to_its_epci_departement_and_region() -> None:
    amiens = load().commune("80021")
    assert amiens is not None and amiens.name == "Amiens"
    levels = {t.level: t.code for t in amiens.territories()}
    assert levels[TerritoryLevel.epci] == "248000531"
    assert levels[TerritoryLevel.departement] == "80"
    assert levels[TerritoryLevel.region] == "32"
    assert levels[TerritoryLevel.national] == "FR"


def test_region_32_and_departement_32_are_different_territories() -> None:
    auch = load().commune("32013")  # Auch, in the Gers (département 32), région Occitanie (76)
    assert auch is not None
    codes = {(t.level, t.code) for t in auch.territories()}
    assert (TerritoryLevel.departement, "32") in codes
    assert (TerritoryLevel.region, "32") not in codes


def test_unknown_codes_postcodes_and_names_get_suggestions() -> None:
    geo = load()
    assert geo.commune("80999") is None
    assert "Amiens" in [c.name for c in geo.suggest("80000")]  # a postcode
    assert "Amiens" in [c.name for c in geo.suggest("amien")]  # a misspelt name
    assert geo.suggest("80021")[0].code == "80021"


def test_every_commune_points_at_a_known_departement_and_region() -> None:
    geo = load()
    assert len(geo.communes) > 34_000
    departements = {c.departement for c in geo.communes.values()}
    assert {"02", "59", "60", "62", "80"} <= departements
