"""The demo data: deterministic, big and varied enough, real places, and its deliberate gaps."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from services.directory import vocabulary as v
from services.directory.demo_data import (
    DEMO_PASSWORD,
    ESSOR,
    TREMPLIN,
    DemoData,
    generate,
)
from services.directory.domain import password_is_strong
from services.directory.geo import load
from services.directory.matching import IndexedOffer, OfferIndex, coverage
from services.directory.models import MemberCreate, NetworkCreate, OfferCreate, UserCreate

HAUTS_DE_FRANCE = {"02", "59", "60", "62", "80"}
DOC = Path(__file__).parents[2] / "docs" / "demo.md"


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


def test_two_generations_are_equal(data: DemoData) -> None:
    again = generate()
    assert again == data
    assert [m.siret for m in again.members] == [m.siret for m in data.members]


def test_tremplin_has_enough_members_in_every_departement_and_both_circles(
    data: DemoData,
) -> None:
    members = data.members_of(TREMPLIN)
    assert len(members) >= 40
    assert {m.departement for m in members} == HAUTS_DE_FRANCE
    assert {m.circle for m in members} == set(v.CIRCLES)
    schemes = {s for m in members for s in m.schemes}
    assert {"starter_ess", "dla", "incubateur", "fabrique_initiatives"} <= schemes
    assert {"france_active", "cae", "piva_plus", "cress"} <= schemes
    dla = Counter(m.departement for m in members if "dla" in m.schemes)
    assert set(dla) == HAUTS_DE_FRANCE, "one DLA per département"


def test_tremplin_has_enough_offers_of_every_kind_stage_and_level(data: DemoData) -> None:
    offers = data.offers_of(TREMPLIN)
    assert len(offers) >= 150
    assert {o.kind for o in offers} == set(v.OFFER_KINDS)
    assert {s for o in offers for s in o.stages} == set(v.STAGES)
    assert {level for o in offers for level, _ in o.territories} == {
        "commune",
        "epci",
        "departement",
        "region",
        "national",
    }
    assert len({t for o in offers for t in o.themes}) >= 12
    assert {o.capacity for o in offers} == set(v.CAPACITIES)
    assert {p for o in offers for p in o.project_types} == set(v.PROJECT_TYPES)
    assert any(o.max_structure_age_months == 36 for o in offers)
    assert any(o.legal_forms for o in offers) and any(o.employer for o in offers)
    assert all(o.required_information for o in offers if o.kind != "information")


def test_small_second_network_and_a_member_in_both(data: DemoData) -> None:
    essor = next(n for n in data.networks if n.id == ESSOR)
    assert essor.region == "52"
    assert 3 <= len(data.members_of(ESSOR)) <= 12 and data.offers_of(ESSOR)
    both = [m for m in data.members if {TREMPLIN, ESSOR} <= set(m.network_ids)]
    assert len(both) == 1
    geo = load()
    for offer in data.offers_of(ESSOR):
        for level, code in offer.territories:
            if level == "region":
                assert code == "52"
            elif level == "departement":
                assert geo.departements[code].region == "52"


def test_every_place_exists_in_the_geography(data: DemoData) -> None:
    geo = load()
    for member in data.members:
        commune = geo.commune(member.commune)
        assert commune is not None, member.slug
        assert commune.departement == member.departement
    for offer in data.offers:
        for level, code in offer.territories:
            if level == "commune":
                assert geo.commune(code) is not None, (offer.title, code)
            elif level == "epci":
                assert code in geo.epcis, (offer.title, code)
            elif level == "departement":
                assert code in geo.departements, (offer.title, code)
            elif level == "region":
                assert code in geo.regions, (offer.title, code)
            else:
                assert (level, code) == ("national", "FR")


def test_everything_is_clearly_fictional(data: DemoData) -> None:
    assert all("Démo" in m.name and "fictive" in m.address for m in data.members)
    assert all(len(m.siret) == 14 and m.siret.isdigit() for m in data.members)
    assert len({m.siret for m in data.members}) == len(data.members)
    emails = [a.email for a in data.accounts] + [m.contact_email for m in data.members]
    assert all(e.endswith("@demo.relais.test") for e in emails)
    assert all("fictive" in o.description for o in data.offers)


def test_payloads_are_valid_api_bodies(data: DemoData) -> None:
    for network in data.networks:
        NetworkCreate.model_validate(network.payload())
    for member in data.members:
        MemberCreate.model_validate(member.payload())
    for offer in data.offers:
        OfferCreate.model_validate(offer.payload("mbr_x"))
    for account in data.accounts:
        UserCreate.model_validate(account.payload("mbr_x" if account.member else None))


def test_accounts_an_adviser_and_an_admin_per_member_an_operator_per_network(
    data: DemoData,
) -> None:
    assert password_is_strong(DEMO_PASSWORD) and data.password == DEMO_PASSWORD
    emails = [a.email for a in data.accounts]
    assert len(emails) == len(set(emails))
    for member in data.members:
        roles = sorted(r for a in data.accounts if a.member == member.slug for r in a.roles)
        assert roles == ["adviser", "member_admin"], member.slug
    for network in data.networks:
        operators = [a for a in data.accounts if a.network == network.id]
        assert any("network_operator" in a.roles for a in operators)
        assert set(network.operator_emails) <= {a.email for a in operators}
    assert any(a.roles == ("funder",) and a.network == TREMPLIN for a in data.accounts)


def test_the_first_two_members_can_refer_to_each_other(data: DemoData) -> None:
    first, second = data.members[:2]
    assert TREMPLIN in first.network_ids and TREMPLIN in second.network_ids
    assert first.slug != second.slug


def _departements_reached(level: str, code: str) -> set[str]:
    """Independent of the generator: every département a territory touches, even in part."""
    geo = load()
    if level == "national":
        return set(geo.departements)
    if level == "region":
        return {d.code for d in geo.departements.values() if d.region == code}
    if level == "departement":
        return {code}
    if level == "epci":
        return {c.departement for c in geo.communes.values() if c.epci == code}
    commune = geo.commune(code)
    assert commune is not None
    return {commune.departement}


def test_the_deliberate_gaps_hold(data: DemoData) -> None:
    assert len(data.gaps) >= 2
    for gap in data.gaps:
        assert gap.region == "32" and gap.departement in HAUTS_DE_FRANCE
        offending = [
            offer.title
            for offer in data.offers
            if offer.kind == gap.kind
            and gap.stage in offer.stages
            and any(
                gap.departement in _departements_reached(level, code)
                for level, code in offer.territories
            )
        ]
        assert offending == [], (gap, offending)
    gap = next(g for g in data.gaps if g.departement == "02")
    assert (gap.kind, gap.stage) == ("accompagnement", "idee")


def test_coverage_of_region_32_shows_exactly_the_deliberate_gaps(data: DemoData) -> None:
    """At département level every other (stage, kind) cell has an offer covering it whole."""
    members = {m.slug: m for m in data.members}
    index = OfferIndex.build(
        IndexedOffer(
            id=f"off_{number}",
            member_id=offer.member,
            member_name=members[offer.member].name,
            title=offer.title,
            kind=offer.kind,
            stages=offer.stages,
            territories=offer.territories,
        )
        for number, offer in enumerate(data.offers)
    )
    report = coverage(index, load(), "32", by="departement")
    found = {(g.territory.code, g.kind, g.stage) for g in report.gaps}
    expected = {(g.departement, g.kind, g.stage) for g in data.gaps}
    assert found == expected
    for gap in report.gaps:
        assert gap.partial_offers == 0
        assert gap.population_without_offer == gap.territory.population


def test_the_docs_follow_the_data(data: DemoData) -> None:
    doc = DOC.read_text(encoding="utf-8")
    for member in data.members:
        count = sum(1 for o in data.offers if o.member == member.slug)
        assert re.search(rf"^\| `{member.slug}` \|.*\| {count} \|$", doc, re.M), member.slug
    for network in data.networks:
        assert f"| {len(data.offers_of(network.id))} |" in doc, network.id
    for gap in data.gaps:
        assert f"| {gap.departement} {gap.departement_name} |" in doc
    assert f"**`{data.password}`**" in doc
