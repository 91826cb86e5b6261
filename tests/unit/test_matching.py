"""Matching over a hand-written index: territory levels, filters, eligibility and ranking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.directory.geo import load
from services.directory.matching import (
    Criteria,
    IndexedOffer,
    OfferIndex,
    UnknownCommune,
    match,
    places,
    themes_of,
)
from services.directory.matching.views import commune_view, match_json, offer_view, reasons_view

AMIENS, AMIENS_EPCI, AUCH = "80021", "248000531", "32013"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def offer(offer_id: str, *territories: tuple[str, str], **fields: object) -> IndexedOffer:
    values: dict[str, object] = {
        "id": offer_id,
        "member_id": f"mbr_{offer_id}",
        "member_name": f"Structure {offer_id}",
        "title": f"Offre {offer_id}",
        "kind": "accompagnement",
        "stages": ("creation",),
        "territories": territories,
        "updated_at": NOW,
    }
    values.update(fields)
    return IndexedOffer(**values)  # type: ignore[arg-type]


LEVEL_OFFERS = [
    offer("commune", ("commune", AMIENS)),
    offer("epci", ("epci", AMIENS_EPCI)),
    offer("departement", ("departement", "80")),
    offer("region", ("region", "32")),
    offer("national", ("national", "FR")),
    offer("oise", ("departement", "60")),
    offer("gers", ("departement", "32")),
]


def ids(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.offer.id for r in results]


def test_amiens_matches_every_level_with_the_most_local_reason() -> None:
    index = OfferIndex.build(LEVEL_OFFERS)
    results = match(index, load(), Criteria(commune=AMIENS, stage="creation", project="collective"))
    assert ids(results) == ["commune", "epci", "departement", "region", "national"]
    levels = {r.offer.id: (r.reasons.territory_level, r.reasons.territory_code) for r in results}
    assert levels == {
        "commune": ("commune", AMIENS),
        "epci": ("epci", AMIENS_EPCI),
        "departement": ("departement", "80"),
        "region": ("region", "32"),
        "national": ("national", "FR"),
    }
    assert all(r.reasons.stage == "creation" for r in results)
    assert all(r.reasons.eligibility == ("project_type",) for r in results)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_an_offer_on_several_territories_reports_the_most_local_one() -> None:
    both = offer("both", ("region", "32"), ("commune", AMIENS), ("departement", "60"))
    [result] = match(OfferIndex.build([both]), load(), Criteria(commune=AMIENS))
    assert result.reasons.territory_level == "commune"


def test_region_32_and_departement_32_are_not_confused() -> None:
    index = OfferIndex.build(LEVEL_OFFERS)
    in_gers = ids(match(index, load(), Criteria(commune=AUCH)))
    assert in_gers == ["gers", "national"]  # not the Hauts-de-France région offer
    assert "gers" not in ids(match(index, load(), Criteria(commune=AMIENS)))


def test_stage_and_kind_filter() -> None:
    index = OfferIndex.build(
        [
            offer("idee", ("departement", "80"), stages=("idee", "faisabilite")),
            offer("creation", ("departement", "80")),
            offer("funding", ("departement", "80"), kind="financement"),
        ]
    )
    geo = load()
    assert ids(match(index, geo, Criteria(commune=AMIENS, stage="idee"))) == ["idee"]
    assert ids(match(index, geo, Criteria(commune=AMIENS, kind="financement"))) == ["funding"]
    assert len(match(index, geo, Criteria(commune=AMIENS))) == 3


def test_a_collective_project_excludes_an_individual_only_offer() -> None:
    index = OfferIndex.build(
        [
            offer("individual", ("departement", "80"), project_types=("individual",)),
            offer("collective", ("departement", "80"), project_types=("collective",)),
            offer("any", ("departement", "80")),
        ]
    )
    results = match(index, load(), Criteria(commune=AMIENS, stage="creation", project="collective"))
    assert sorted(ids(results)) == ["any", "collective"]
    unsaid = match(index, load(), Criteria(commune=AMIENS))
    assert {r.offer.id: r.reasons.to_check for r in unsaid}["individual"] == ("project_type",)


def test_structure_age_legal_form_and_employer() -> None:
    index = OfferIndex.build(
        [
            offer("young", ("region", "32"), max_structure_age_months=36),
            offer("scop", ("region", "32"), legal_forms=("scop", "scic")),
            offer("employers", ("region", "32"), employer=True),
            offer("open", ("region", "32")),
        ]
    )
    geo = load()
    assert "young" not in ids(match(index, geo, Criteria(commune=AMIENS, structure_age_months=40)))
    assert "young" in ids(match(index, geo, Criteria(commune=AMIENS, structure_age_months=36)))
    assert "scop" not in ids(match(index, geo, Criteria(commune=AMIENS, legal_form="association")))
    assert "scop" in ids(match(index, geo, Criteria(commune=AMIENS, legal_form="scic")))
    assert "employers" not in ids(match(index, geo, Criteria(commune=AMIENS, employer=False)))
    assert "employers" in ids(match(index, geo, Criteria(commune=AMIENS, employer=True)))
    assert len(match(index, geo, Criteria(commune=AMIENS))) == 4  # nothing said, nothing excluded
    full = match(
        index,
        geo,
        Criteria(commune=AMIENS, structure_age_months=12, legal_form="scop", employer=True),
    )
    assert ids(full) == ["employers", "open", "scop", "young"]  # same level: by id
    assert full[0].reasons.eligibility == ("legal_form", "structure_age", "employer")


def test_full_offers_are_excluded_unless_asked_then_last() -> None:
    index = OfferIndex.build(
        [
            offer("full_local", ("commune", AMIENS), capacity="full"),
            offer("waitlist", ("commune", AMIENS), capacity="waitlist"),
            offer("open_national", ("national", "FR")),
        ]
    )
    geo = load()
    assert ids(match(index, geo, Criteria(commune=AMIENS))) == ["waitlist", "open_national"]
    with_full = match(index, geo, Criteria(commune=AMIENS, include_full=True))
    assert ids(with_full) == ["waitlist", "open_national", "full_local"]
    assert with_full[-1].capacity == "full"


def test_capacity_then_freshness_break_ties() -> None:
    index = OfferIndex.build(
        [
            offer("old", ("departement", "80"), updated_at=NOW - timedelta(days=300)),
            offer("new", ("departement", "80")),
            offer("waiting", ("departement", "80"), capacity="waitlist"),
        ]
    )
    assert ids(match(index, load(), Criteria(commune=AMIENS))) == ["new", "old", "waiting"]


def test_themes_rank_but_do_not_filter() -> None:
    index = OfferIndex.build(
        [
            offer("food", ("departement", "80"), themes=("alimentation",)),
            offer("food_rural", ("departement", "80"), themes=("alimentation", "ruralite")),
            offer("culture", ("departement", "80"), themes=("culture",)),
            offer("generalist", ("departement", "80")),
            offer("local_culture", ("commune", AMIENS), themes=("culture",)),
        ]
    )
    criteria = Criteria(commune=AMIENS, themes=("alimentation", "ruralite"))
    results = match(index, load(), criteria)
    # Territory first, then matched themes, then generalist before off-theme.
    assert ids(results) == ["local_culture", "food_rural", "food", "generalist", "culture"]
    by_id = {r.offer.id: r.reasons for r in results}
    assert by_id["food_rural"].themes == ("alimentation", "ruralite")
    assert by_id["generalist"].generalist and by_id["generalist"].themes == ()
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)  # the score tells the same order


def test_order_is_deterministic_whatever_the_input_order() -> None:
    rows = [offer(f"o{i}", ("departement", "80")) for i in range(20)]
    geo = load()
    first = ids(match(OfferIndex.build(rows), geo, Criteria(commune=AMIENS)))
    second = ids(match(OfferIndex.build(reversed(rows)), geo, Criteria(commune=AMIENS)))
    assert first == second == sorted(first)


def test_unknown_commune_raises() -> None:
    with pytest.raises(UnknownCommune):
        match(OfferIndex.build([]), load(), Criteria(commune="80999"))


def test_themes_of_accepts_repeated_and_comma_separated_values() -> None:
    assert themes_of(["culture,ruralite", "iae", " culture "]) == ("culture", "ruralite", "iae")


def test_commune_autocomplete() -> None:
    where = places(load())
    assert where.search("amien")[0].code == AMIENS
    assert where.search("AMIÉNS")[0].code == AMIENS  # accents and case do not matter
    assert where.search("80000")[0].code == AMIENS  # a postcode
    assert where.search(AMIENS)[0].code == AMIENS  # an INSEE code
    assert where.search("havre")[0].name == "Le Havre"  # the article is optional
    assert where.search("st etienne")[0].name == "Saint-Étienne"
    saints = where.search("saint")
    assert len(saints) == 20
    populations = [c.population for c in saints]
    assert populations == sorted(populations, reverse=True)


def test_the_json_text_is_the_views_joined() -> None:
    """match_json joins cached fragments: it must say exactly what the views say."""
    geo = load()
    index = OfferIndex.build(
        [
            offer("a", ("commune", AMIENS), themes=("culture",), legal_forms=("scop",)),
            offer("b", ("region", "32"), description="Un accompagnement. " * 40),
            offer("c", ("national", "FR"), capacity="full", max_structure_age_months=36),
        ]
    )
    commune = geo.commune(AMIENS)
    assert commune is not None
    for lang in ("fr", "en"):
        criteria = Criteria(commune=AMIENS, themes=("culture",), include_full=True, employer=True)
        results = match(index, geo, criteria)
        body = json.loads(match_json(index, geo, commune, results, lang=lang, limit=2))
        assert body["count"] == 3 and len(body["results"]) == 2
        assert body["commune"] == commune_view(geo, commune)
        for shown, result in zip(body["results"], results, strict=False):
            assert shown["offer"] == offer_view(geo, result.offer, lang)
            assert shown["reasons"] == reasons_view(geo, result.reasons, lang)
            assert shown["score"] == result.score
            assert shown["member"] == {
                "id": result.offer.member_id,
                "name": result.offer.member_name,
            }
        summary = body["results"][1]["offer"]["summary"]
        assert len(summary) <= 301 and summary.endswith("…")
