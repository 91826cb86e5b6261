"""Coverage of a région: the territory × stage × kind matrix and gaps weighted by population."""

from __future__ import annotations

import pytest

from services.directory.geo import load
from services.directory.matching import (
    Coverage,
    IndexedOffer,
    OfferIndex,
    UnknownTerritory,
    coverage,
    places,
)

TERNOIS = "200069672"  # CC du Ternois: communes in the Pas-de-Calais (62) and the Somme (80)
AUMALE = "200069722"  # CC interrégionale Aumale - Blangy: Seine-Maritime (76, Normandie) and Somme
AMIENS_EPCI = "248000531"
CLERMONT_EPCI = "246000749"  # CC des Lisières de l'Oise (60)


def offer(
    offer_id: str, kind: str, stages: tuple[str, ...], *where: tuple[str, str]
) -> IndexedOffer:
    return IndexedOffer(
        id=offer_id,
        member_id="mbr",
        member_name="Structure",
        title=offer_id,
        kind=kind,
        stages=stages,
        territories=where,
    )


INDEX = OfferIndex.build(
    [
        offer("idea_region", "accompagnement", ("idee",), ("region", "32")),
        offer("fund_somme", "financement", ("creation",), ("departement", "80")),
        offer("fund_pas_de_calais", "financement", ("consolidation",), ("departement", "62")),
        offer("training_clermont", "formation", ("developpement",), ("epci", CLERMONT_EPCI)),
        offer("national", "information", ("idee", "creation"), ("national", "FR")),
        offer("normandie", "mise_en_reseau", ("creation",), ("region", "28")),
        offer("gers", "hebergement_incubation", ("creation",), ("departement", "32")),
    ]
)


def cell(result: Coverage, code: str, stage: str, kind: str) -> int:
    [row] = [r for r in result.rows if r.territory.code == code]
    return row.counts[stage][kind]


def gap_keys(result: Coverage) -> list[tuple[str, str, str]]:
    return [(g.territory.code, g.stage, g.kind) for g in result.gaps]


def test_departement_matrix_counts_offers_covering_each_departement() -> None:
    result = coverage(INDEX, load(), "32", "departement")
    assert [r.territory.code for r in result.rows] == ["02", "59", "60", "62", "80"]
    assert result.rows[0].territory.name == "Aisne"
    for dep in ("02", "59", "60", "62", "80"):
        assert cell(result, dep, "idee", "accompagnement") == 1  # the région's offer
        assert cell(result, dep, "creation", "information") == 1  # national
        assert cell(result, dep, "creation", "hebergement_incubation") == 0  # Gers, not HdF
    assert cell(result, "80", "creation", "financement") == 1
    assert cell(result, "59", "creation", "financement") == 0


def test_gaps_are_ranked_by_the_population_left_without_an_offer() -> None:
    geo = load()
    result = coverage(INDEX, geo, "32", "departement")
    keys = gap_keys(result)
    assert ("80", "creation", "financement") not in keys
    funding = [g for g in result.gaps if (g.stage, g.kind) == ("creation", "financement")]
    assert [g.territory.code for g in funding] == ["59", "62", "60", "02"]  # most populous first
    where = places(geo)
    for gap in funding:
        assert gap.population_without_offer == where.population("departement", gap.territory.code)
    populations = [g.population_without_offer for g in result.gaps]
    assert populations == sorted(populations, reverse=True)
    assert result.gaps[0].territory.code == "59"  # the Nord: 2.6 million people
    assert not [k for k in keys if (k[1], k[2]) == ("idee", "accompagnement")]


def test_an_offer_inside_a_departement_covers_it_in_part() -> None:
    geo = load()
    result = coverage(INDEX, geo, "32", "departement")
    [gap] = [g for g in result.gaps if gap_keys_of(g) == ("60", "developpement", "formation")]
    where = places(geo)
    reached = sum(c.population for c in where.epci_communes[CLERMONT_EPCI])
    assert gap.partial_offers == 1
    assert gap.population_without_offer == where.population("departement", "60") - reached
    [row] = [r for r in result.rows if r.territory.code == "60"]
    assert row.counts["developpement"]["formation"] == 0
    assert row.partial["developpement"]["formation"] == 1


def gap_keys_of(gap: object) -> tuple[str, str, str]:
    return (gap.territory.code, gap.stage, gap.kind)  # type: ignore[attr-defined]


def test_an_offer_on_a_departement_covers_every_epci_in_it() -> None:
    geo = load()
    result = coverage(INDEX, geo, "32", "epci")
    where = places(geo)
    assert {r.territory.code for r in result.rows} == set(where.region_epcis["32"])
    for epci in where.departement_epcis["80"]:
        assert cell(result, epci, "creation", "financement") == 1, epci
    assert cell(result, TERNOIS, "creation", "financement") == 1  # astride 62 and 80
    assert cell(result, TERNOIS, "consolidation", "financement") == 1  # and by 62's offer
    assert cell(result, AMIENS_EPCI, "consolidation", "financement") == 0
    assert cell(result, AUMALE, "creation", "mise_en_reseau") == 1  # partly in Normandie
    assert cell(result, AMIENS_EPCI, "creation", "mise_en_reseau") == 0
    assert cell(result, CLERMONT_EPCI, "developpement", "formation") == 1
    [amiens] = [r for r in result.rows if r.territory.code == AMIENS_EPCI]
    assert amiens.territory.population == geo.epcis[AMIENS_EPCI].population  # from epci.csv
    lille = [g for g in result.gaps if g.territory.code == "200093201"]  # Métropole européenne
    assert lille and lille[0].population_without_offer > 1_000_000


def test_commune_offers_reduce_the_population_left_without_one() -> None:
    geo = load()
    index = OfferIndex.build([offer("amiens", "formation", ("idee",), ("commune", "80021"))])
    result = coverage(index, geo, "32", "epci")
    [gap] = [
        g
        for g in result.gaps
        if (g.territory.code, g.stage, g.kind) == (AMIENS_EPCI, "idee", "formation")
    ]
    amiens = geo.commune("80021")
    assert amiens is not None
    where = places(geo)
    expected = sum(c.population for c in where.epci_communes[AMIENS_EPCI]) - amiens.population
    assert gap.population_without_offer == expected and gap.partial_offers == 1


def test_the_result_is_cached_on_the_index_and_unknown_regions_raise() -> None:
    geo = load()
    assert coverage(INDEX, geo, "32") is coverage(INDEX, geo, "32")
    with pytest.raises(UnknownTerritory):
        coverage(INDEX, geo, "99")
    with pytest.raises(ValueError):
        coverage(INDEX, geo, "32", "commune")
