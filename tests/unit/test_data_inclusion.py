"""data·inclusion mapping: zones, vocabularies, and validity against the official package."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from data_inclusion.schema.v1 import Service, Structure, Thematique, TypeService

from contracts.base import Territory, TerritoryLevel
from services.directory import vocabulary as v
from services.directory.interchange.data_inclusion import (
    KIND_TO_TYPE,
    TYPE_TO_KIND,
    service_of,
    structure_of,
    zone_eligibilite,
)
from services.directory.interchange.data_inclusion_import import (
    offer_fields,
    territories_from_zone,
)
from services.directory.models import Member, Offer

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8001"
HAUTS_DE_FRANCE = ["02", "59", "60", "62", "80"]
STRICT = {"ignore_warnings": False}  # the package's warnings become errors


def member(**overrides: object) -> Member:
    fields: dict[str, object] = dict(
        id="mbr_test",
        name="Coopérative d'activité Picardie",
        siret="12345678900011",
        address="3 rue des Jacobins",
        commune="80021",
        contact_email="contact@cae-picardie.example",
        contact_phone="+33322000000",
        website="cae-picardie.example",
        schemes=["cae", "france_active"],
        national_networks=["Coopérer pour entreprendre"],
        created_at=NOW,
        updated_at=NOW,
    )
    return Member.model_validate({**fields, **overrides})


def offer(**overrides: object) -> Offer:
    fields: dict[str, object] = dict(
        id="off_test",
        member_id="mbr_test",
        title="Accompagnement à la création d'activité",
        description="Un parcours de six mois pour tester son activité en coopérative.",
        kind="accompagnement",
        stages=["idee", "creation"],
        themes=["alimentation", "ruralite"],
        created_at=NOW,
        updated_at=NOW,
    )
    return Offer.model_validate({**fields, **overrides})


def region(code: str) -> Territory:
    return Territory(level=TerritoryLevel.region, code=code)


def test_a_region_wide_zone_becomes_its_departements() -> None:
    item = service_of(offer(), [region("32")], member(), BASE)
    assert item is not None
    assert item["zone_eligibilite"] == HAUTS_DE_FRANCE  # not "32", which reads as the Gers
    Service.model_validate(item, context=STRICT)


def test_zones_keep_communes_epci_and_departements_and_national_is_france() -> None:
    places = [
        Territory(level=TerritoryLevel.commune, code="80021"),
        Territory(level=TerritoryLevel.epci, code="248000531"),
        Territory(level=TerritoryLevel.departement, code="2A"),
        region("32"),
    ]
    zone = zone_eligibilite(places)
    assert zone[:3] == ["80021", "248000531", "2A"]
    assert set(zone[3:]) == set(HAUTS_DE_FRANCE)
    assert zone_eligibilite([*places, Territory(level=TerritoryLevel.national, code="FR")]) == [
        "france"
    ]


def test_every_kind_cost_mode_stage_and_theme_exports_a_valid_service() -> None:
    combos = itertools.zip_longest(
        v.OFFER_KINDS, v.COSTS, v.MODES_ACCUEIL, v.STAGES, v.THEMES, v.CAPACITIES
    )
    for n, (kind, cost, mode, stage, theme, capacity) in enumerate(combos):
        candidate = offer(
            id=f"off_{n}",
            kind=kind or "formation",
            cost=cost or "payant",
            modes_accueil=[mode or "a_distance"],
            stages=[stage or "idee"],
            themes=[theme] if theme else [],
            capacity=capacity or "open",
            project_types=["collective"] if n % 2 else [],
            legal_forms=["scop"] if n % 3 == 0 else [],
            employer=True if n % 4 == 0 else None,
            required_information=["besoins"],
            description="" if n % 2 else "Une description assez longue de l'offre.",
            url="https://exemple.fr/offre" if n % 2 else None,
        )
        item = service_of(candidate, [region("52")], member(), BASE)
        assert item is not None, candidate
        parsed = Service.model_validate(item, context=STRICT)
        assert parsed.id == f"relais--off_{n}" and parsed.structure_id == "relais--mbr_test"
        assert parsed.type == KIND_TO_TYPE[candidate.kind]
        assert v.STAGE_TO_DATA_INCLUSION[candidate.stages[0]] in {
            t.value for t in parsed.thematiques or ()
        }


def test_structures_validate_and_keep_what_the_package_accepts() -> None:
    item = structure_of(member(), BASE)
    assert item is not None
    parsed = Structure.model_validate(item, context=STRICT)
    assert parsed.id == "relais--mbr_test" and parsed.siret == "12345678900011"
    assert parsed.code_insee == "80021" and parsed.commune == "Amiens"
    assert str(parsed.site_web) == "https://cae-picardie.example/"
    assert {r.value for r in parsed.reseaux_porteurs or ()} == {"france-active"}
    # An address the package refuses is left out; the structure is still exported.
    odd = structure_of(member(contact_email="pas-une-adresse", website="::"), BASE)
    assert odd is not None and "courriel" not in odd
    Structure.model_validate(odd, context=STRICT)


def test_future_dates_are_clamped_to_today() -> None:
    later = datetime(2999, 1, 1, tzinfo=UTC)
    item = service_of(offer(updated_at=later), [region("32")], member(), BASE)
    assert item is not None
    Service.model_validate(item, context=STRICT)


def test_mapping_tables_use_codes_of_the_package() -> None:
    codes = {t.value for t in Thematique}
    assert set(v.STAGE_TO_DATA_INCLUSION.values()) <= codes
    assert {c for cs in v.THEME_TO_DATA_INCLUSION.values() for c in cs} <= codes
    assert set(KIND_TO_TYPE) == set(v.OFFER_KINDS)
    assert set(TYPE_TO_KIND) == {t.value for t in TypeService}
    assert set(TYPE_TO_KIND.values()) <= set(v.OFFER_KINDS)


def test_import_maps_back_and_drops_unknown_thematiques() -> None:
    territories, dropped = territories_from_zone([*HAUTS_DE_FRANCE, "80021", "00000"])
    assert region("32") in territories
    assert Territory(level=TerritoryLevel.commune, code="80021") in territories
    assert dropped == ["00000"]
    national, _ = territories_from_zone(["france"])
    assert national == [Territory(level=TerritoryLevel.national, code="FR")]

    item = service_of(offer(themes=["alimentation"]), [region("32")], member(), BASE)
    assert item is not None
    item["thematiques"].append("famille--garde-denfants")
    fields, notes, reason = offer_fields(Service.model_validate(item))
    assert reason is None and fields is not None
    assert fields["kind"] == "accompagnement" and fields["themes"] == ["alimentation"]
    assert set(fields["stages"]) >= {"idee", "creation"}
    assert fields["territories"] == [region("32")]
    assert any("famille--garde-denfants" in note for note in notes)


def test_a_service_without_a_creation_thematique_is_rejected() -> None:
    item = service_of(offer(), [region("32")], member(), BASE)
    assert item is not None
    item["thematiques"] = ["numerique--maitriser-les-fondamentaux-du-numerique"]
    fields, _notes, reason = offer_fields(Service.model_validate(item))
    assert fields is None and reason is not None and "stade" in reason


@pytest.mark.parametrize("cost", ["gratuit", "payant", "sur_conditions"])
def test_cost_round_trips(cost: str) -> None:
    item = service_of(offer(cost=cost), [region("32")], member(), BASE)
    assert item is not None
    fields, _notes, _reason = offer_fields(Service.model_validate(item))
    assert fields is not None and fields["cost"] == cost
