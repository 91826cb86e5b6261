"""The evaluation grid, self-diagnosis and follow-ups, through real HTTP, the real broker and
the four real services (SQLite and PostgreSQL for the evaluation database).

One stack per database serves the module, driven by a ManualClock that only moves forward;
the tests run in file order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, select

from services.evaluation.grid import journey_evaluations, survival
from services.evaluation.grid.followups import FOLLOW_UP_TIMER
from services.evaluation.grid.models import FollowUp, SelfDiagnosis
from services.evaluation.grid.selfdiag import packaged_questionnaire
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import ManualClock
from services.kit.embedded import free_port
from services.kit.timers import TimerRecord
from services.referral.models import Referral
from tests.harness.directory import PASSWORD
from tests.harness.kafka import read_topic
from tests.harness.postgres import create_database, drop_database, sqlalchemy_url
from tests.harness.stack import ADMIN_KEY, Stack, project_body, running_stack, wait_until

ADMIN = {"X-Admin-Key": ADMIN_KEY}
MEMBERS = ("starter", "fabrique", "fonds", "ailleurs")
OFFERS = {
    "fabrique": {
        "title": "Accompagnement à la création",
        "kind": "accompagnement",
        "stages": ["creation"],
        "territories": [{"level": "departement", "code": "80"}],
    },
    "fonds": {
        "title": "Prêt d'honneur solidaire",
        "kind": "financement",
        "stages": ["creation", "developpement"],
        "territories": [{"level": "region", "code": "32"}],
    },
}
TAG = uuid.uuid4().hex[:10]
SECRET_TAG = uuid.uuid4().hex[:10]
CONTACT = {
    "name": f"Dominique Autodiag {SECRET_TAG}",
    "email": f"dominique.{SECRET_TAG}@exemple.fr",
    "phone": "0698765432",
}


@dataclass
class World:
    stack: Stack
    client: httpx.AsyncClient
    clock: ManualClock
    bootstrap: str
    members: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    offers: dict[str, str] = field(default_factory=dict)

    def url(self, name: str, path: str) -> str:
        return self.stack.url(name) + path

    async def auth(self, who: str) -> dict[str, str]:
        r = await self.client.post(self.url("directory", "/v1/token"), json=self.credentials[who])
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def call(
        self, method: str, service: str, path: str, who: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {**(await self.auth(who) if who else {}), **kw.pop("headers", {})}
        return await self.client.request(method, self.url(service, path), headers=headers, **kw)

    def evaluation_db(self) -> Any:
        return self.stack.runtime("evaluation").db

    @property
    def settings(self) -> EvaluationSettings:
        settings: EvaluationSettings = self.stack.runtime("evaluation").settings
        return settings


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    var_dir = tmp_path_factory.mktemp("evaluation-grid")
    urls: dict[str, str] = {}
    database: tuple[str, str] | None = None
    if request.param == "postgresql":
        admin = request.getfixturevalue("postgres_admin_url")
        database = (admin, create_database(admin))
        urls["evaluation"] = sqlalchemy_url(*database)
    clock = ManualClock()
    try:
        async with (
            running_stack(
                bootstrap=kafka_bootstrap,
                var_dir=var_dir,
                group_prefix=f"grid-{uuid.uuid4().hex[:12]}",
                webhook_url=None,
                database_urls=urls,
                clock=clock,
            ) as stack,
            httpx.AsyncClient(timeout=15) as client,
        ):
            w = World(stack, client, clock, kafka_bootstrap)
            # The harness does not know the evaluation's outbound URLs: the directory's is
            # derived from the JWKS URL, the referral service's is set here.
            w.settings.referral_url = stack.url("referral")
            await _populate(w)
            yield w
    finally:
        if database:
            drop_database(*database)


async def _populate(w: World) -> None:
    r = await w.client.post(
        w.url("directory", "/v1/networks"),
        json={"id": "tremplin", "name": "Tremplin", "region": "32"},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    for short in MEMBERS:
        r = await w.client.post(
            w.url("directory", "/v1/members"),
            json={"name": f"{short} {TAG}", "network_ids": ["tremplin"], "commune": "80021"},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        w.members[short] = r.json()["member"]["id"]
        w.credentials[short] = {"api_key": r.json()["api_key"]}
    email = f"operateur-{TAG}@tremplin.relais.test"
    r = await w.client.post(
        w.url("directory", "/v1/users"),
        json={
            "email": email,
            "name": "Opé",
            "network_id": "tremplin",
            "roles": ["network_operator"],
        },
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    secret = parse_qs(urlparse(r.json()["invitation_url"]).query)["jeton"][0]
    r = await w.client.post(
        w.url("directory", "/v1/password"), json={"token": secret, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    w.credentials["operateur"] = {"email": email, "password": PASSWORD}
    for short, offer in OFFERS.items():
        r = await w.call(
            "POST", "directory", "/v1/offers", short, json={**offer, "member_id": w.members[short]}
        )
        assert r.status_code == 201, r.text
        w.offers[short] = r.json()["id"]


async def _referred_project(w: World, sender: str, receiver: str) -> tuple[str, str]:
    """A project registered by `sender` and referred to `receiver`: (project id, referral id),
    once the evaluation service has learnt who takes part in it."""

    async def known() -> bool:  # the referral service copies the directory from its events
        r = await w.call("POST", "referral", "/v1/projects", sender, json=project_body())
        if r.status_code != 201:
            return False
        project_id = r.json()["id"]
        s = await w.call(
            "POST",
            "referral",
            "/v1/referrals",
            sender,
            json={"project_id": project_id, "receiver_member_id": w.members[receiver]},
        )
        return s.status_code == 201 and (project_id, s.json()["id"])  # type: ignore[return-value]

    project_id, referral_id = await wait_until(known, timeout=30, what="members copied")

    async def participants_known() -> bool:
        r = await w.call("GET", "evaluation", f"/v1/projects/{project_id}/evaluations", receiver)
        return r.status_code == 200

    await wait_until(participants_known, timeout=30, what="evaluation learns the participants")
    return project_id, referral_id


async def _events(w: World, type_suffix: str, at_least: int = 1) -> list[dict[str, Any]]:
    records = await read_topic(w.bootstrap, "evaluation.events", at_least=at_least)
    found = []
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        if headers["ce_type"] == f"fr.relais.evaluation.{type_suffix}.v1":
            found.append(json.loads(record.value))
    return found


SCORES_ENTRY = {"besoin_identifie": 1, "partenaires_locaux": 0, "viabilite": 1, "sobriete": 1}
SCORES_EXIT = {"besoin_identifie": 3, "partenaires_locaux": 2, "viabilite": 2, "sobriete": 3}


# --- grids and evaluations -----------------------------------------------------------------


async def test_grid_versions_are_published_in_french_and_english(world: World) -> None:
    w = world
    r = await w.call("GET", "evaluation", "/v1/grids")
    assert r.status_code == 200 and r.json()["current"] == "2026.1"
    fr = (await w.call("GET", "evaluation", "/v1/grids/2026.1")).json()
    en = (await w.call("GET", "evaluation", "/v1/grids/2026.1?lang=en")).json()
    assert fr["dimensions"][0]["label"] == "Besoin social adressé"
    assert en["dimensions"][0]["label"] == "Social need addressed"
    assert len(fr["sdgs"]) == 17
    assert (await w.call("GET", "evaluation", "/v1/grids/1999.1")).status_code == 404


async def test_entry_and_exit_evaluations_give_the_change(world: World) -> None:
    w = world
    project_id, _ = await _referred_project(w, "starter", "fabrique")
    path = f"/v1/projects/{project_id}/evaluations"

    first = await w.call(
        "POST",
        "evaluation",
        path,
        "starter",
        json={"moment": "entry", "scores": {"besoin_identifie": 0}, "sdgs": [1]},
    )
    assert first.status_code == 201, first.text
    w.clock.advance(timedelta(days=1))
    entry = await w.call(
        "POST",
        "evaluation",
        path,
        "starter",
        json={"moment": "entry", "scores": SCORES_ENTRY, "sdgs": [1, 10]},
    )
    assert entry.status_code == 201, entry.text
    assert entry.json()["dimension_scores"]["modele_economique_hybride"] == 1.0
    w.clock.advance(timedelta(days=90))
    exit_ = await w.call(
        "POST",
        "evaluation",
        path,
        "fabrique",
        json={"moment": "exit", "scores": SCORES_EXIT, "sdgs": [8, 10, 11]},
    )
    assert exit_.status_code == 201, exit_.text

    async with w.evaluation_db().session() as session:
        journeys = await journey_evaluations(session, [project_id, "prj_never_evaluated"])
    assert list(journeys) == [project_id]
    journey = journeys[project_id]
    assert journey.entry is not None and journey.exit is not None
    assert journey.entry.evaluation_id == entry.json()["id"]  # the first one is superseded
    assert journey.entry.member_id == w.members["starter"]
    assert journey.exit.member_id == w.members["fabrique"] and journey.exit.grid_version == "2026.1"
    assert journey.change == {
        "ancrage_territorial": 2.0,
        "besoin_social": 2.0,
        "modele_economique_hybride": 1.5,
    }

    listed = (await w.call("GET", "evaluation", path, "fabrique")).json()
    counts = {e["id"]: (e["counts"], e["superseded_by"]) for e in listed["evaluations"]}
    assert counts[first.json()["id"]] == (False, entry.json()["id"])
    assert counts[entry.json()["id"]] == (True, None)
    assert listed["journey"]["change"]["besoin_social"] == 2.0

    async def recorded() -> list[dict[str, Any]]:
        return [e for e in await _events(w, "evaluation_recorded") if e["project_id"] == project_id]

    events = await wait_until(lambda: _has(recorded, 3), what="EvaluationRecorded x3")
    assert events[1]["supersedes"] == first.json()["id"] and events[2]["moment"] == "exit"


async def _has(probe: Any, count: int) -> Any:
    found = await probe()
    return found if len(found) >= count else None


async def test_bad_scores_or_unknown_criteria_get_a_422_in_french(world: World) -> None:
    w = world
    project_id, _ = await _referred_project(w, "starter", "fabrique")
    r = await w.call(
        "POST",
        "evaluation",
        f"/v1/projects/{project_id}/evaluations",
        "starter",
        json={"moment": "entry", "scores": {"viabilite": 9, "inventé": 1}, "sdgs": [18]},
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "grid.invalid_evaluation"
    assert "critère inconnu « inventé »" in error["message"]
    assert "notes possibles : 0, 1, 2, 3" in error["message"] and "ODD" in error["message"]
    fields = {d["field"] for d in error["details"]}
    assert fields == {"scores.viabilite", "scores.inventé", "sdgs"}


async def test_a_member_outside_the_journey_gets_403_and_the_operator_reads(world: World) -> None:
    w = world
    project_id, _ = await _referred_project(w, "starter", "fabrique")
    path = f"/v1/projects/{project_id}/evaluations"
    assert (await w.call("GET", "evaluation", path, "ailleurs")).status_code == 403
    posted = await w.call(
        "POST", "evaluation", path, "ailleurs", json={"moment": "entry", "scores": {"viabilite": 1}}
    )
    assert posted.status_code == 403
    assert (await w.call("GET", "evaluation", path, "operateur")).status_code == 200
    assert (await w.call("GET", "evaluation", path)).status_code == 401


# --- follow-ups ----------------------------------------------------------------------------


async def test_a_created_structure_is_followed_one_year_later(world: World) -> None:
    w = world
    _, referral_id = await _referred_project(w, "starter", "fabrique")
    for action, body in (
        ("accept", None),
        ("start", None),
        ("complete", {"outcome": "structure_creee", "jobs_created": 2}),
    ):
        r = await w.call(
            "POST", "referral", f"/v1/referrals/{referral_id}/{action}", "fabrique", json=body
        )
        assert r.status_code == 200, f"{action}: {r.text}"
    r = await w.call(
        "POST",
        "referral",
        f"/v1/referrals/{referral_id}/assign",
        "fabrique",
        json={"adviser_user_id": "usr_conseillere"},
    )
    assert r.status_code == 200, r.text

    async def scheduled() -> list[FollowUp]:
        async with w.evaluation_db().session() as session:
            rows = (
                await session.exec(select(FollowUp).where(FollowUp.referral_id == referral_id))
            ).all()
            timers = (
                await session.exec(select(TimerRecord).where(TimerRecord.kind == FOLLOW_UP_TIMER))
            ).all()
        keys = {t.key for t in timers}
        return list(rows) if len(rows) == 3 and all(r.id in keys for r in rows) else []

    follow_ups = sorted(
        await wait_until(scheduled, what="three follow-ups"), key=lambda f: f.years_after
    )
    year_one = follow_ups[0]
    early = await w.call(
        "POST",
        "evaluation",
        f"/v1/follow-ups/{year_one.id}/answer",
        "fabrique",
        json={"still_active": True},
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "followup.not_due"

    w.clock.advance(timedelta(days=366))

    async def due() -> list[dict[str, Any]]:
        return [e for e in await _events(w, "follow_up_due") if e["referral_id"] == referral_id]

    [event] = await wait_until(due, what="FollowUpDue on evaluation.events")
    assert event["follow_up_id"] == year_one.id and event["years_after"] == 1
    assert event["member_id"] == w.members["fabrique"]
    assert event["adviser_user_id"] == "usr_conseillere"

    listed = (await w.call("GET", "evaluation", "/v1/follow-ups?status=due", "fabrique")).json()
    assert [f["id"] for f in listed] == [year_one.id]
    assert (await w.call("GET", "evaluation", "/v1/follow-ups?status=due", "starter")).json() == []

    r = await w.call(
        "POST",
        "evaluation",
        f"/v1/follow-ups/{year_one.id}/answer",
        "fabrique",
        json={"still_active": True, "jobs": 3},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered" and r.json()["jobs"] == 3

    async with w.evaluation_db().session() as session:
        figures = await survival(session, member_ids=[w.members["fabrique"]])
    assert figures.structures == 1
    assert figures.year(1).model_dump() == {
        "years_after": 1,
        "followed": 1,
        "answered": 1,
        "still_active": 1,
        "survival_rate": 1.0,
    }
    assert figures.year(3).followed == 0

    over_http = await w.call("GET", "evaluation", "/v1/follow-ups/survival", "fabrique")
    assert over_http.status_code == 200 and over_http.json()["by_year"][0]["still_active"] == 1
    by_operator = await w.call("GET", "evaluation", "/v1/follow-ups/survival", "operateur")
    assert by_operator.status_code == 200 and by_operator.json()["structures"] >= 1
    answered = await wait_until(
        lambda: _has(lambda: _answered(w, year_one.id), 1), what="FollowUpAnswered"
    )
    assert answered[0]["still_active"] is True and answered[0]["jobs"] == 3


async def _answered(w: World, follow_up_id: str) -> list[dict[str, Any]]:
    return [e for e in await _events(w, "follow_up_answered") if e["follow_up_id"] == follow_up_id]


# --- self-diagnosis ------------------------------------------------------------------------


def _answers(index: int) -> dict[str, str]:
    """The same choice (by position) to every question of the questionnaire."""
    return {q.code: q.choices[index].code for q in packaged_questionnaire().questions}


async def test_self_diagnosis_gives_a_profile_and_offers_from_the_directory(world: World) -> None:
    w = world
    q = await w.call("GET", "evaluation", "/v1/public/self-diagnosis")
    assert q.status_code == 200 and len(q.json()["questions"]) == 10
    assert q.json()["title"].startswith("Autodiagnostic")
    body = {"stage": "creation", "answers": _answers(1), "commune": "80021"}

    async def with_offers() -> dict[str, Any] | None:
        r = await w.call("POST", "evaluation", "/v1/public/self-diagnosis", json=body)
        assert r.status_code == 201, r.text
        offers = {o["id"] for step in r.json()["steps"] for o in step["offers"]}
        return r.json() if {w.offers["fabrique"], w.offers["fonds"]} <= offers else None

    result = await wait_until(with_offers, what="offers matched by the directory")
    assert result["profile"]["code"] == "a_structurer" and result["score"] == 33.3
    assert {d["code"] for d in result["dimensions"]} >= {"besoin_social", "impact_essaimage"}
    by_step = {s["kind"]: s for s in result["steps"]}
    assert w.offers["fonds"] in {o["id"] for o in by_step["financement"]["offers"]}
    assert result["note"] is None and result["handoff"] is None

    bad = await w.call(
        "POST",
        "evaluation",
        "/v1/public/self-diagnosis",
        json={"stage": "creation", "answers": {"besoin_connaissance": "autre"}},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "selfdiag.invalid"
    assert "réponse manquante" in bad.json()["error"]["message"]


async def test_self_diagnosis_without_the_directory_gives_steps_and_a_note(world: World) -> None:
    w = world
    w.settings.directory_url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    try:
        r = await w.call(
            "POST",
            "evaluation",
            "/v1/public/self-diagnosis",
            json={"stage": "idee", "answers": _answers(0), "commune": "80021"},
        )
    finally:
        w.settings.directory_url = None
    assert r.status_code == 201, r.text
    assert r.json()["steps"] and all(s["offers"] == [] for s in r.json()["steps"])
    assert "injoignable" in r.json()["note"]


async def test_the_contact_hand_off_creates_a_self_referral_and_keeps_nothing(world: World) -> None:
    w = world
    contact = {
        "member_id": w.members["fabrique"],
        "offer_id": w.offers["fabrique"],
        "porteur": CONTACT,
        "consent": True,
    }
    refused = await w.call(
        "POST",
        "evaluation",
        "/v1/public/self-diagnosis",
        json={
            "stage": "creation",
            "answers": _answers(2),
            "commune": "80021",
            "contact": {**contact, "consent": False},
        },
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "public.consent_required"

    r = await w.call(
        "POST",
        "evaluation",
        "/v1/public/self-diagnosis",
        json={
            "stage": "creation",
            "answers": _answers(2),
            "commune": "80021",
            "contact": contact,
        },
    )
    assert r.status_code == 201, r.text
    handoff = r.json()["handoff"]
    reference = handoff["reference"]
    assert handoff["link"]  # the porteur's private link, shown once

    async with w.stack.runtime("referral").db.session() as session:
        referral = await session.get(Referral, reference)
    assert referral is not None and referral.receiver_member_id == w.members["fabrique"]

    async with w.evaluation_db().session() as session:
        stored = await session.get(SelfDiagnosis, r.json()["id"])
        assert stored is not None and stored.handed_off and stored.handoff_reference == reference
        dump = await _dump_every_table(session)
    assert r.json()["id"] in dump and reference in dump  # the scan does read our rows
    for secret in (CONTACT["name"], CONTACT["email"], CONTACT["phone"], "Dominique", SECRET_TAG):
        assert secret not in dump, f"{secret!r} found in the evaluation database"
    assert "127.0.0.1" not in dump  # no client address either


async def _dump_every_table(session: Any) -> str:
    texts = []
    for table in SQLModel.metadata.sorted_tables:
        try:
            rows = (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all()
        except Exception:  # a table of another service, absent from this database
            await session.rollback()
            continue
        texts.append(repr(rows))
    return "\n".join(texts)


async def test_the_public_door_caps_bodies_and_rates(world: World) -> None:
    w = world
    huge = {"stage": "idee", "answers": _answers(0), "themes": ["x" * 20_000]}
    r = await w.call("POST", "evaluation", "/v1/public/self-diagnosis", json=huge)
    assert r.status_code == 413 and r.json()["error"]["code"] == "public.too_large"
    w.settings.public_per_hour = 1  # earlier tests already took self-diagnoses from here
    try:
        r = await w.call(
            "POST",
            "evaluation",
            "/v1/public/self-diagnosis",
            json={"stage": "idee", "answers": _answers(0)},
        )
    finally:
        w.settings.public_per_hour = EvaluationSettings().public_per_hour
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.json()["error"]["code"] == "public.rate_limited"
