"""The referral service's "Must hold", through real HTTP, the real broker and the other services.

One stack (directory + referral + evaluation + notify) serves the whole module, driven by a
ManualClock: the tests run in file order and move time forward only (never back), so each
test starts from "now" and none depends on another's data. Every personal string the tests
write about the porteur is known (PORTEUR, MARK): the last test reads every record on every
topic, and every database file, and finds none of them in clear.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import col, func, select

from services.kit.clock import ManualClock
from services.kit.outbox import OutboxRecord
from services.kit.timers import TimerRecord
from services.referral.handlers.referrals import EXPIRY_TIMER, REMINDER_TIMER
from services.referral.models import (
    AccessLogEntry,
    IdempotencyRecord,
    KnownMember,
    KnownOffer,
    Message,
    Project,
    ProjectKey,
    Referral,
)
from tests.harness.directory import PASSWORD
from tests.harness.kafka import read_topic
from tests.harness.stack import ADMIN_KEY, PORTEUR, Stack, project_body, running_stack, wait_until

ADMIN = {"X-Admin-Key": ADMIN_KEY}
MARK = f"confidentiel-{uuid.uuid4().hex[:12]}"  # stands for every free text about the porteur
SECRETS = (PORTEUR["name"], PORTEUR["email"], PORTEUR["phone"], MARK)
EVENT = "fr.relais.referral.{}.v1"

MEMBERS = {  # short name -> (name, schemes)
    "accueil": ("Point d'accueil ESS d'Amiens", ["piva_plus"]),
    "starter": ("Starter ESS Somme", ["starter_ess"]),
    "fabrique": ("Fabrique à initiatives du Vimeu", ["fabrique_initiatives"]),
    "incubateur": ("Incubateur Amiens Métropole", ["incubateur"]),
    "cae": ("CAE Picarde", ["cae"]),
    "fonds": ("France Active Picardie", ["france_active"]),
    "dla": ("DLA de la Somme", ["dla"]),
    "effacement": ("Maison de l'ESS d'Abbeville", ["autre"]),
}
OFFERS = {  # member -> offer (territories are what the policies look at)
    "starter": {
        "title": "Parcours Starter ESS",
        "kind": "accompagnement",
        "stages": ["idee", "faisabilite", "creation"],
        "territories": [{"level": "departement", "code": "80"}],
    },
    "incubateur": {  # covers the Nord, not the Somme
        "title": "Incubation de projets ESS",
        "kind": "hebergement_incubation",
        "stages": ["creation"],
        "territories": [{"level": "departement", "code": "59"}],
    },
    "fonds": {
        "title": "Prêt d'honneur solidaire",
        "kind": "financement",
        "stages": ["creation", "developpement"],
        "territories": [{"level": "region", "code": "32"}],
        "required_information": ["budget_previsionnel", "forme_juridique"],
    },
}
OPERATORS = {"operateur": "tremplin", "operateur_essor": "essor"}


@dataclass
class World:
    stack: Stack
    client: httpx.AsyncClient
    clock: ManualClock
    bootstrap: str
    var_dir: Path
    members: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    offers: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    @property
    def referral(self) -> str:
        return self.stack.url("referral")

    async def token(self, who: str, *, fresh: bool = False) -> str:
        cached = self._tokens.get(who)
        if cached and not fresh and self.clock.now() - cached[1] < timedelta(minutes=10):
            return cached[0]
        r = await self.client.post(
            self.stack.url("directory") + "/v1/token", json=self.credentials[who]
        )
        assert r.status_code == 200, r.text
        self._tokens[who] = (r.json()["access_token"], self.clock.now())
        return self._tokens[who][0]

    async def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(who)}"}

    async def post(
        self, who: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            self.referral + path, json=body, headers={**await self.auth(who), **(headers or {})}
        )

    async def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            self.referral + path, params=params, headers=await self.auth(who)
        )

    def subject(self, who: str) -> str:
        return f"member:{self.members[who]}"

    def session(self) -> Any:
        return self.stack.runtime("referral").db.session()

    def later(self, delta: timedelta) -> datetime:
        return self.clock.advance(delta)


# --- the stack and its network ----------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    clock = ManualClock()
    var_dir = tmp_path_factory.mktemp("referral-flow")
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=var_dir,
            group_prefix=f"flow-{uuid.uuid4().hex[:12]}",
            webhook_url=None,
            clock=clock,
        ) as stack,
        httpx.AsyncClient(timeout=15) as client,
    ):
        w = World(stack, client, clock, kafka_bootstrap, var_dir)
        await _populate(w)
        yield w


async def _populate(w: World) -> None:
    directory = w.stack.url("directory")
    for network, region in (("tremplin", "32"), ("essor", "52")):
        r = await w.client.post(
            directory + "/v1/networks",
            json={"id": network, "name": network.title(), "region": region},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
    for short, (name, schemes) in MEMBERS.items():
        r = await w.client.post(
            directory + "/v1/members",
            json={
                "name": name,
                "network_ids": ["tremplin"],
                "commune": "80021",
                "schemes": schemes,
            },
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        w.members[short] = r.json()["member"]["id"]
        w.credentials[short] = {"api_key": r.json()["api_key"]}
    for short, network in OPERATORS.items():
        email = f"{short}@{network}.relais.test"
        r = await w.client.post(
            directory + "/v1/users",
            json={
                "email": email,
                "name": short,
                "network_id": network,
                "roles": ["network_operator"],
            },
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        secret = parse_qs(urlparse(r.json()["invitation_url"]).query)["jeton"][0]
        r = await w.client.post(
            directory + "/v1/password", json={"token": secret, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        w.credentials[short] = {"email": email, "password": PASSWORD}
    for short, offer in OFFERS.items():
        r = await w.client.post(
            directory + "/v1/offers",
            json={**offer, "member_id": w.members[short]},
            headers={"Authorization": f"Bearer {await w.token(short)}"},
        )
        assert r.status_code == 201, r.text
        w.offers[short] = r.json()["id"]

    async def copied() -> bool:  # the referral service learns the directory from its events
        async with w.session() as session:
            members = (
                await session.exec(
                    select(func.count()).where(col(KnownMember.id).in_(list(w.members.values())))
                )
            ).one()
            offers = (
                await session.exec(
                    select(func.count()).where(col(KnownOffer.id).in_(list(w.offers.values())))
                )
            ).one()
        return members == len(w.members) and offers == len(w.offers)

    await wait_until(copied, timeout=30, what="the referral service's copy of the directory")


# --- helpers -------------------------------------------------------------------------------


async def new_project(
    w: World, owner: str, *, consent: bool = True, **facts: Any
) -> dict[str, Any]:
    body = project_body(**facts)
    body.update(
        title=f"Épicerie solidaire {MARK}",
        description=f"Une épicerie coopérative en centre-bourg ({MARK})",
        needs=f"Local, financement d'amorçage ({MARK})",
    )
    if not consent:
        body.pop("consent")
    r = await w.post(owner, "/v1/projects", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def send(
    w: World, sender: str, project_id: str, receiver: str, **extra: Any
) -> httpx.Response:
    return await w.post(
        sender,
        "/v1/referrals",
        {"project_id": project_id, "receiver_member_id": w.members[receiver], **extra},
    )


async def sent(
    w: World, sender: str, project_id: str, receiver: str, **extra: Any
) -> dict[str, Any]:
    r = await send(w, sender, project_id, receiver, **extra)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def act(w: World, who: str, referral_id: str, action: str, **body: Any) -> dict[str, Any]:
    r = await w.post(who, f"/v1/referrals/{referral_id}/{action}", body or None)
    assert r.status_code == 200, f"{action}: {r.text}"
    return dict(r.json())


async def status_of(w: World, who: str, referral_id: str) -> str:
    r = await w.get(who, f"/v1/referrals/{referral_id}")
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def decoded(record: ConsumerRecord[bytes, bytes]) -> tuple[str, dict[str, Any]]:
    headers = {k: v.decode() for k, v in record.headers}
    return headers["ce_type"], json.loads(record.value)


async def project_events(w: World, project_id: str) -> list[tuple[str, dict[str, Any]]]:
    records = await read_topic(w.bootstrap, "referral.events", at_least=1)
    return [decoded(r) for r in records if r.key == project_id.encode()]


async def wait_for_event(w: World, project_id: str, kind: str, **match: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        for type_, data in await project_events(w, project_id):
            if type_ == EVENT.format(kind) and all(data.get(k) == v for k, v in match.items()):
                return data
        return None

    found: dict[str, Any] = await wait_until(probe, timeout=20, what=f"{kind} event")
    return found


async def access_log(w: World, project_id: str) -> list[AccessLogEntry]:
    async with w.session() as session:
        rows = await session.exec(
            select(AccessLogEntry)
            .where(AccessLogEntry.project_id == project_id)
            .order_by(col(AccessLogEntry.id))
        )
        return list(rows.all())


async def timer(w: World, kind: str, referral_id: str) -> TimerRecord | None:
    async with w.session() as session:
        rows = await session.exec(
            select(TimerRecord).where(TimerRecord.kind == kind, TimerRecord.key == referral_id)
        )
        return rows.first()


# --- the journey -------------------------------------------------------------------------


async def test_a_chain_across_structures_reads_back_in_order_in_the_timeline(world: World) -> None:
    """idée -> Starter ESS -> incubator -> France Active, with one decline and one redirect."""
    w = world
    project = await new_project(w, "accueil", stage="idee")
    pid = project["id"]

    w.later(timedelta(hours=2))
    r1 = await sent(w, "accueil", pid, "starter", offer_id=w.offers["starter"])
    assert r1["status"] == "sent" and r1["warnings"] == []
    assert r1["allowed_actions"] == ["cancel"]  # what the sender may do from here

    # A member the journey has not reached (yet) cannot orient the project onward.
    assert (await send(w, "starter", pid, "incubateur")).status_code == 404
    # Refused transitions name what is allowed (for this party).
    early = await w.post("starter", f"/v1/referrals/{r1['id']}/start")
    assert early.status_code == 409, early.text
    assert sorted(early.json()["error"]["details"]["allowed"]) == [
        "accept",
        "decline",
        "request-info",
    ]
    assert "accept" in early.json()["error"]["message"]
    not_yours = await w.post("accueil", f"/v1/referrals/{r1['id']}/accept")
    assert not_yours.status_code == 409
    assert not_yours.json()["error"]["details"]["allowed"] == ["cancel"]

    w.later(timedelta(days=1))
    accepted = await act(w, "starter", r1["id"], "accept")
    assert accepted["status"] == "accepted" and accepted["version"] == 2
    assert set(accepted["allowed_actions"]) == {"start", "hold", "complete", "fail"}
    w.later(timedelta(days=2))
    await act(w, "starter", r1["id"], "start")

    # The Starter ESS operator, now on the journey, orients onward: a fabrique declines...
    w.later(timedelta(days=20))
    r2 = await sent(w, "starter", pid, "fabrique")
    no_reason = await w.post("fabrique", f"/v1/referrals/{r2['id']}/decline", {})
    assert no_reason.status_code == 422
    bad_reason = await w.post("fabrique", f"/v1/referrals/{r2['id']}/decline", {"reason": "flemme"})
    assert bad_reason.status_code == 422 and "hors_territoire" in bad_reason.text
    w.later(timedelta(days=1))
    declined = await act(
        w, "fabrique", r2["id"], "decline", reason="hors_territoire", message=f"Hors Vimeu {MARK}"
    )
    assert declined["decline_reason"] == "hors_territoire" and declined["allowed_actions"] == []
    assert (
        await send(w, "fabrique", pid, "cae")
    ).status_code == 404  # declined: not on the journey
    assert (await w.post("fabrique", f"/v1/referrals/{r2['id']}/accept")).status_code == 409

    # ... then an incubator accepts; the Starter ESS operator completes its own part.
    w.later(timedelta(days=1))
    r3 = await sent(w, "starter", pid, "incubateur")
    w.later(timedelta(days=3))
    await act(w, "incubateur", r3["id"], "accept")
    await act(w, "incubateur", r3["id"], "start")
    w.later(timedelta(days=1))
    done = await act(w, "starter", r1["id"], "complete", outcome="structure_creee", jobs_created=1)
    assert done["outcome"] == "structure_creee" and done["jobs_created"] == 1

    # The incubator orients to a CAE, which redirects to the France Active fund.
    w.later(timedelta(days=60))
    r4 = await sent(w, "incubateur", pid, "cae")
    w.later(timedelta(days=2))
    to_self = await w.post(
        "cae", f"/v1/referrals/{r4['id']}/redirect", {"receiver_member_id": w.members["incubateur"]}
    )
    assert to_self.status_code == 422  # a redirect goes to a third member
    by_sender = await w.post(
        "incubateur",
        f"/v1/referrals/{r4['id']}/redirect",
        {"receiver_member_id": w.members["fonds"]},
    )
    assert by_sender.status_code == 403  # only the receiver redirects
    redirected = await w.post(
        "cae",
        f"/v1/referrals/{r4['id']}/redirect",
        {"receiver_member_id": w.members["fonds"], "message": f"Besoin de financement {MARK}"},
    )
    assert redirected.status_code == 201, redirected.text
    r5 = redirected.json()
    assert r5["redirected_from"] == r4["id"] and r5["sender_member_id"] == w.members["cae"]
    assert r5["receiver_member_id"] == w.members["fonds"] and r5["status"] == "sent"
    # The original sender sees where it went.
    seen = (await w.get("incubateur", f"/v1/referrals/{r4['id']}")).json()
    assert seen["status"] == "declined" and seen["decline_reason"] == "reoriente_ailleurs"
    assert seen["redirected_to"] == r5["id"]
    assert (await send(w, "cae", pid, "dla")).status_code == 404  # redirected away: off the journey

    w.later(timedelta(days=4))
    await act(w, "fonds", r5["id"], "accept")
    await act(w, "fonds", r5["id"], "start")
    w.later(timedelta(days=30))
    negative = await w.post(
        "fonds",
        f"/v1/referrals/{r5['id']}/complete",
        {"outcome": "financement_obtenu", "jobs_created": -2},
    )
    assert negative.status_code == 422, negative.text  # a person's error, not a crash
    funded = await act(
        w,
        "fonds",
        r5["id"],
        "complete",
        outcome="financement_obtenu",
        funding_amount_eur=15000,
        jobs_created=2,
    )
    assert funded["funding_amount_eur"] == 15000
    w.later(timedelta(days=10))
    await act(w, "incubateur", r3["id"], "complete", outcome="activite_lancee")

    # Every party of the journey reads the same timeline; a stranger gets 404.
    for reader in ("accueil", "starter", "fabrique", "fonds"):
        assert (await w.get(reader, f"/v1/projects/{pid}/timeline")).status_code == 200
    assert (await w.get("dla", f"/v1/projects/{pid}/timeline")).status_code == 404
    line = (await w.get("accueil", f"/v1/projects/{pid}/timeline")).json()

    ids = {r1["id"]: "R1", r2["id"]: "R2", r3["id"]: "R3", r4["id"]: "R4", r5["id"]: "R5"}
    name = {v: k for k, v in w.members.items()}
    assert [ids[r["id"]] for r in line["referrals"]] == ["R1", "R2", "R3", "R4", "R5"]
    assert [(name[r["from"]], name[r["to"]], r["status"]) for r in line["referrals"]] == [
        ("accueil", "starter", "completed"),
        ("starter", "fabrique", "declined"),
        ("starter", "incubateur", "completed"),
        ("incubateur", "cae", "declined"),
        ("cae", "fonds", "completed"),
    ]
    assert line["referrals"][0]["to_name"] == MEMBERS["starter"][0]
    assert line["referrals"][4]["to_name"] == MEMBERS["fonds"][0]
    assert [(ids[e["referral_id"]], e["action"]) for e in line["events"]] == [
        ("R1", "send"),
        ("R1", "accept"),
        ("R1", "start"),
        ("R2", "send"),
        ("R2", "decline"),
        ("R3", "send"),
        ("R3", "accept"),
        ("R3", "start"),
        ("R1", "complete"),
        ("R4", "send"),
        ("R5", "send"),
        ("R4", "decline"),
        ("R5", "accept"),
        ("R5", "start"),
        ("R5", "complete"),
        ("R3", "complete"),
    ]
    times = [e["at"] for e in line["events"]]
    assert times == sorted(times)
    # who did what
    by_step = {(ids[e["referral_id"]], e["action"]): e for e in line["events"]}
    assert by_step["R2", "decline"]["member_id"] == w.members["fabrique"]
    assert by_step["R2", "decline"]["member_name"] == MEMBERS["fabrique"][0]
    assert by_step["R2", "decline"]["details"]["reason"] == "hors_territoire"
    assert by_step["R4", "decline"]["details"] == {
        "reason": "reoriente_ailleurs",
        "redirected_to": r5["id"],
    }
    assert by_step["R5", "send"]["member_id"] == w.members["cae"]
    assert by_step["R5", "complete"]["details"]["outcome"] == "financement_obtenu"
    assert (
        by_step["R1", "send"]["from_status"] is None
        and by_step["R1", "send"]["to_status"] == "sent"
    )
    # the chain as a graph: which referral led to which
    edges = {(ids[e["from"]], ids[e["to"]]) for e in line["edges"]}
    assert edges == {("R1", "R2"), ("R1", "R3"), ("R3", "R4"), ("R4", "R5")}
    # nothing personal in the timeline
    assert not any(secret in json.dumps(line) for secret in SECRETS)

    # The same story on referral.events, in order (one key per project keeps it ordered).
    async def all_published() -> list[tuple[str, dict[str, Any]]] | None:
        events = [
            (t, d)
            for t, d in await project_events(w, pid)
            if "referral_id" in d and t != EVENT.format("message_posted")
        ]
        return events if len(events) == len(line["events"]) else None

    events = await wait_until(all_published, what="the journey's events")
    kinds = [t.removeprefix("fr.relais.referral.").removesuffix(".v1") for t, _ in events]
    assert kinds == [
        "sent", "accepted", "started", "sent", "declined", "sent", "accepted", "started",
        "completed", "sent", "sent", "declined", "accepted", "started", "completed", "completed",
    ]  # fmt: skip
    assert events[11][1]["reason"] == "reoriente_ailleurs"
    assert events[11][1]["redirected_to"] == r5["id"]
    assert events[10][1]["redirected_from"] == r4["id"]
    assert events[14][1]["funding_amount_eur"] == 15000


async def test_the_chain_links_the_referral_that_brought_the_member_in(world: World) -> None:
    """Sent twice to the same member, accepted once: the onward edge leaves the accepted one."""
    w = world
    pid = (await new_project(w, "accueil"))["id"]
    first = await sent(w, "accueil", pid, "starter")
    w.later(timedelta(hours=1))
    await act(w, "starter", first["id"], "accept")
    w.later(timedelta(days=1))
    duplicate = await sent(w, "accueil", pid, "starter")
    w.later(timedelta(hours=1))
    await act(w, "starter", duplicate["id"], "decline", reason="autre", message="Déjà reçu")
    w.later(timedelta(days=1))
    onward = await sent(w, "starter", pid, "incubateur")
    line = (await w.get("accueil", f"/v1/projects/{pid}/timeline")).json()
    assert [(e["from"], e["to"]) for e in line["edges"]] == [(first["id"], onward["id"])]


# --- access ------------------------------------------------------------------------------


async def test_members_see_only_their_referrals_and_bad_tokens_get_401(world: World) -> None:
    w = world
    theirs = await new_project(w, "starter")
    their_referral = await sent(w, "starter", theirs["id"], "fabrique")
    mine = await new_project(w, "accueil")
    my_referral = await sent(w, "accueil", mine["id"], "incubateur")

    # Member A (accueil) on member B's (starter's) referral and project: 404, as if absent.
    for path in (
        f"/v1/referrals/{their_referral['id']}",
        f"/v1/referrals/{their_referral['id']}/messages",
        f"/v1/projects/{theirs['id']}",
        f"/v1/projects/{theirs['id']}/timeline",
    ):
        r = await w.get("accueil", path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    absent = await w.get("accueil", "/v1/referrals/ref_doesnotexist")
    assert absent.status_code == 404
    assert absent.json()["error"]["code"] == r.json()["error"]["code"]
    for action in ("accept", "cancel", "messages"):
        r = await w.post("accueil", f"/v1/referrals/{their_referral['id']}/{action}", {"body": "x"})
        assert r.status_code == 404, (action, r.text)
    r = await w.post("accueil", f"/v1/projects/{theirs['id']}/erase")
    assert r.status_code == 404
    r = await w.post(
        "accueil",
        f"/v1/projects/{theirs['id']}/consents",
        {"text_version": "v", "scopes": ["suivi_statistique"]},
    )
    assert r.status_code == 404
    assert (await send(w, "accueil", theirs["id"], "dla")).status_code == 404
    listed = {r["id"] for r in (await w.get("accueil", "/v1/referrals", limit=500)).json()}
    assert my_referral["id"] in listed and their_referral["id"] not in listed
    received = {
        r["id"]
        for r in (
            await w.get("incubateur", "/v1/referrals", direction="received", limit=500)
        ).json()
    }
    assert my_referral["id"] in received and their_referral["id"] not in received
    # The network's operator sees both (facts only: no title, no porteur).
    for referral in (my_referral, their_referral):
        assert (await w.get("operateur", f"/v1/referrals/{referral['id']}")).status_code == 200
    seen = (await w.get("operateur", f"/v1/projects/{theirs['id']}")).json()
    assert seen["title"] is None and seen["porteur"] is None
    # ... an operator of another network does not.
    assert (await w.get("operateur_essor", f"/v1/referrals/{my_referral['id']}")).status_code == 404
    assert (await w.get("operateur_essor", f"/v1/projects/{mine['id']}")).status_code == 404

    # A token signed by another key, with the directory's key id and genuine-looking claims.
    genuine = await w.token("accueil", fresh=True)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    kid = jwt.get_unverified_header(genuine)["kid"]
    impostor = ec.generate_private_key(ec.SECP256R1())
    for forged in (
        jwt.encode(claims, impostor, algorithm="ES256", headers={"kid": kid}),
        jwt.encode(claims, impostor, algorithm="ES256", headers={"kid": "inconnue"}),
        genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),
        "pas-un-jeton",
    ):
        r = await w.client.get(
            w.referral + f"/v1/referrals/{my_referral['id']}",
            headers={"Authorization": f"Bearer {forged}"},
        )
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "auth.invalid"
    ok = await w.client.get(
        w.referral + f"/v1/referrals/{my_referral['id']}",
        headers={"Authorization": f"Bearer {genuine}"},
    )
    assert ok.status_code == 200

    # An expired token: the service's clock moves past its 15 minutes.
    w.later(timedelta(minutes=16))
    expired = await w.client.get(
        w.referral + f"/v1/referrals/{my_referral['id']}",
        headers={"Authorization": f"Bearer {genuine}"},
    )
    assert expired.status_code == 401
    assert "expiré" in expired.json()["error"]["message"]
    assert (
        await w.get("accueil", f"/v1/referrals/{my_referral['id']}")
    ).status_code == 200  # new token


async def test_the_receiver_sees_contacts_only_with_consent_and_acceptance(world: World) -> None:
    w = world
    project = await new_project(w, "accueil", consent=False)
    pid = project["id"]
    assert project["porteur"] == PORTEUR and MARK in project["title"]  # the owner sees it all

    # Nothing is shared without consent: the referral is refused.
    refused = await send(w, "accueil", pid, "starter")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "consent.missing"
    typo = await w.post(
        "accueil", f"/v1/projects/{pid}/consents", {"text_version": "2026-01", "scopes": ["tout"]}
    )
    assert typo.status_code == 422 and "partage_structure_destinataire" in typo.text
    consent = await w.post(
        "accueil",
        f"/v1/projects/{pid}/consents",
        {
            "text_version": "2026-01",
            "scopes": ["partage_structure_destinataire", "contact_par_structure"],
            "collected_by": "Conseillère accueil",
        },
    )
    assert consent.status_code == 201, consent.text
    assert consent.json()["collected_by"] == "Conseillère accueil"
    assert consent.json()["collected_at"] and consent.json()["withdrawn_at"] is None
    referral = await sent(w, "accueil", pid, "starter")

    before = len(await access_log(w, pid))
    # Sent, not accepted: the file (title, description) but not the porteur.
    r = await w.get("starter", f"/v1/projects/{pid}")
    assert r.status_code == 200, r.text
    seen = r.json()
    assert MARK in seen["title"] and MARK in seen["description"]
    assert seen["porteur"] is None
    log = await access_log(w, pid)
    assert len(log) == before + 1
    assert log[-1].reader == w.subject("starter") and log[-1].at == w.clock.now()

    w.later(timedelta(hours=3))
    await act(w, "starter", referral["id"], "accept")
    for _ in range(2):  # every read is logged
        seen = (await w.get("starter", f"/v1/projects/{pid}")).json()
        assert seen["porteur"] == PORTEUR
    log = await access_log(w, pid)
    assert len(log) == before + 3
    assert {e.reader for e in log[-2:]} == {w.subject("starter")}
    assert all(e.purpose for e in log)

    # Somebody who is neither owner nor receiver reads facts only (operator) or nothing.
    operator_view = (await w.get("operateur", f"/v1/projects/{pid}")).json()
    assert operator_view["porteur"] is None and operator_view["title"] is None
    assert operator_view["commune"] == "80021"
    assert (await w.get("fabrique", f"/v1/projects/{pid}")).status_code == 404
    assert len(await access_log(w, pid)) == before + 3  # facts only: nothing personal was read

    # Messages on the referral are sealed with the project; reading them is logged too.
    posted = await w.post(
        "starter", f"/v1/referrals/{referral['id']}/messages", {"body": f"RDV mardi {MARK}"}
    )
    assert posted.status_code == 201, posted.text
    thread = (await w.get("accueil", f"/v1/referrals/{referral['id']}/messages")).json()
    assert [m["body"] for m in thread] == [f"RDV mardi {MARK}"]
    assert thread[0]["author_member_id"] == w.members["starter"]
    log = await access_log(w, pid)
    assert len(log) == before + 4 and log[-1].reader == w.subject("accueil")


async def test_withdrawing_consent_cancels_the_open_referrals(world: World) -> None:
    w = world
    project = await new_project(w, "accueil")
    pid = project["id"]
    waiting = await sent(w, "accueil", pid, "starter")
    running = await sent(w, "accueil", pid, "incubateur")
    await act(w, "incubateur", running["id"], "accept")
    await act(w, "incubateur", running["id"], "start")
    finished = await sent(w, "accueil", pid, "fabrique")
    await act(w, "fabrique", finished["id"], "decline", reason="capacite_atteinte")
    assert (await w.get("incubateur", f"/v1/projects/{pid}")).json()["porteur"] == PORTEUR

    consents = await w.get("accueil", f"/v1/projects/{pid}/consents")
    assert consents.status_code == 200, consents.text
    (consent,) = consents.json()
    assert consent["scopes"] == ["partage_structure_destinataire"]
    assert (await w.get("starter", f"/v1/projects/{pid}/consents")).status_code == 404
    # only the owner withdraws (here; the porteur's own door is another way)
    assert (await w.post("starter", f"/v1/consents/{consent['id']}/withdraw")).status_code == 404

    w.later(timedelta(hours=1))
    withdrawn = await w.post("accueil", f"/v1/consents/{consent['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_at"] is not None

    assert await status_of(w, "accueil", waiting["id"]) == "cancelled"
    assert await status_of(w, "accueil", running["id"]) == "cancelled"
    assert await status_of(w, "accueil", finished["id"]) == "declined"  # closed ones stay closed
    assert (await timer(w, EXPIRY_TIMER, waiting["id"])).state == "cancelled"  # type: ignore[union-attr]
    # nothing more is shared, nothing more may be sent
    seen = (await w.get("incubateur", f"/v1/projects/{pid}")).json()
    assert seen["porteur"] is None and seen["title"] is None
    again = await send(w, "accueil", pid, "dla")
    assert again.status_code == 422 and again.json()["error"]["code"] == "consent.missing"
    line = (await w.get("accueil", f"/v1/projects/{pid}/timeline")).json()
    causes = [e["details"].get("cause") for e in line["events"] if e["action"] == "cancel"]
    assert causes == ["consentement_retire", "consentement_retire"]

    await wait_for_event(w, pid, "consent_withdrawn", consent_id=consent["id"])
    await wait_for_event(w, pid, "cancelled", referral_id=waiting["id"])
    await wait_for_event(w, pid, "cancelled", referral_id=running["id"])
    # withdrawing twice changes nothing
    assert (await w.post("accueil", f"/v1/consents/{consent['id']}/withdraw")).status_code == 200


# --- idempotency and concurrency -----------------------------------------------------------


async def test_idempotency_key_and_if_match(world: World) -> None:
    w = world
    project = await new_project(w, "accueil")
    pid = project["id"]
    key = {"Idempotency-Key": f"envoi-{uuid.uuid4().hex}"}
    body = {"project_id": pid, "receiver_member_id": w.members["starter"]}

    first = await w.post("accueil", "/v1/referrals", body, key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await w.post("accueil", "/v1/referrals", body, key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await w.post(
        "accueil", "/v1/referrals", {**body, "receiver_member_id": w.members["dla"]}, key
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency.mismatch"
    # Another caller's key is theirs: the same key by another member is a new request.
    theirs = await new_project(w, "starter")
    reused = await w.post(
        "starter",
        "/v1/referrals",
        {"project_id": theirs["id"], "receiver_member_id": w.members["dla"]},
        key,
    )
    assert reused.status_code == 201 and "idempotent-replayed" not in reused.headers
    referrals = [
        r
        for r in (await w.get("accueil", "/v1/referrals", limit=500)).json()
        if r["project_id"] == pid
    ]
    assert [r["id"] for r in referrals] == [first.json()["id"]]  # acted once
    # without a key, twice is twice
    no_key = [
        await w.post("accueil", "/v1/referrals", {**body, "receiver_member_id": w.members["cae"]})
        for _ in range(2)
    ]
    assert no_key[0].json()["id"] != no_key[1].json()["id"]
    # Twins racing with the same key: one referral, the same answer for both.
    race = {"Idempotency-Key": f"course-{uuid.uuid4().hex}"}
    twins = await asyncio.gather(
        *(
            w.post(
                "accueil",
                "/v1/referrals",
                {**body, "receiver_member_id": w.members["fabrique"]},
                race,
            )
            for _ in range(4)
        )
    )
    assert {t.status_code for t in twins} == {201}, [t.text for t in twins]
    assert len({t.json()["id"] for t in twins}) == 1
    async with w.session() as session:
        count = (
            await session.exec(
                select(func.count()).where(
                    Referral.project_id == pid, Referral.receiver_member_id == w.members["fabrique"]
                )
            )
        ).one()
    assert count == 1

    # Every POST takes a key: a project registered twice is one project...
    project_key = {"Idempotency-Key": f"projet-{uuid.uuid4().hex}"}
    registration = project_body(stage="faisabilite")
    created = [await w.post("dla", "/v1/projects", registration, project_key) for _ in range(2)]
    assert [c.status_code for c in created] == [201, 201]
    assert created[1].headers["idempotent-replayed"] == "true"
    assert created[0].json() == created[1].json() and created[1].json()["porteur"] == PORTEUR
    async with w.session() as session:
        owned = (
            await session.exec(
                select(func.count()).where(Project.owner_member_id == w.members["dla"])
            )
        ).one()
        stored = (
            await session.exec(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.key == project_key["Idempotency-Key"]
                )
            )
        ).one()
    assert owned == 1
    assert PORTEUR["email"] not in json.dumps(
        stored.body
    )  # the replay reads again, sealed data stays sealed
    # ... an action sent twice acts once (the second is not a 409) ...
    dla_ref = await sent(w, "dla", created[0].json()["id"], "incubateur")
    accept_key = {"Idempotency-Key": f"accepte-{uuid.uuid4().hex}"}
    accepts = [
        await w.post("incubateur", f"/v1/referrals/{dla_ref['id']}/accept", None, accept_key)
        for _ in range(2)
    ]
    assert [a.status_code for a in accepts] == [200, 200]
    assert (
        accepts[1].headers["idempotent-replayed"] == "true" and accepts[1].headers["etag"] == '"2"'
    )
    assert accepts[1].json()["version"] == 2
    # ... and a message posted twice is one message.
    message_key = {"Idempotency-Key": f"message-{uuid.uuid4().hex}"}
    posts = [
        await w.post(
            "dla",
            f"/v1/referrals/{dla_ref['id']}/messages",
            {"body": f"Bonjour {MARK}"},
            message_key,
        )
        for _ in range(2)
    ]
    assert [p.status_code for p in posts] == [201, 201]
    assert posts[0].json() == posts[1].json() and posts[1].json()["body"] == f"Bonjour {MARK}"
    assert len((await w.get("dla", f"/v1/referrals/{dla_ref['id']}/messages")).json()) == 1

    # Optimistic concurrency: the ETag is the version; a stale If-Match gets 412.
    rid = first.json()["id"]
    read = await w.get("starter", f"/v1/referrals/{rid}")
    assert read.headers["etag"] == '"1"'
    accepted = await w.post(
        "starter", f"/v1/referrals/{rid}/accept", None, {"If-Match": read.headers["etag"]}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["etag"] == '"2"' and accepted.json()["version"] == 2
    stale = await w.post("starter", f"/v1/referrals/{rid}/start", None, {"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition"
    assert await status_of(w, "starter", rid) == "accepted"
    garbage = await w.post("starter", f"/v1/referrals/{rid}/start", None, {"If-Match": "n'importe"})
    assert garbage.status_code == 412
    fresh = await w.post("starter", f"/v1/referrals/{rid}/start", None, {"If-Match": 'W/"2"'})
    assert fresh.status_code == 200 and fresh.json()["status"] == "in_progress"
    # a redirect honours If-Match as well
    other_rid = no_key[0].json()["id"]
    stale_redirect = await w.post(
        "cae",
        f"/v1/referrals/{other_rid}/redirect",
        {"receiver_member_id": w.members["fonds"]},
        {"If-Match": '"7"'},
    )
    assert stale_redirect.status_code == 412
    assert await status_of(w, "cae", other_rid) == "sent"


# --- policies ------------------------------------------------------------------------------


async def test_send_time_policies(world: World) -> None:
    w = world
    # The fund's offer requires a budget and a legal form: a file without them is refused.
    thin = await new_project(w, "accueil")
    missing = await send(w, "accueil", thin["id"], "fonds", offer_id=w.offers["fonds"])
    assert missing.status_code == 422, missing.text
    error = missing.json()["error"]
    assert error["code"] == "referral.missing_information"
    assert error["details"]["missing"] == ["budget_previsionnel", "forme_juridique"]
    assert "Budget prévisionnel" in error["message"] and "Forme juridique" in error["message"]
    half = await new_project(w, "accueil", budget_eur=40000)
    missing = await send(w, "accueil", half["id"], "fonds", offer_id=w.offers["fonds"])
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["missing"] == ["forme_juridique"]
    async with w.session() as session:  # refused: nothing written
        count = (
            await session.exec(select(func.count()).where(Referral.project_id == half["id"]))
        ).one()
    assert count == 0
    full = await new_project(w, "accueil", budget_eur=40000, legal_form="association")
    ok = await sent(w, "accueil", full["id"], "fonds", offer_id=w.offers["fonds"])
    assert ok["warnings"] == [] and ok["offer_id"] == w.offers["fonds"]
    # an offer of another member is not this receiver's
    wrong = await send(w, "accueil", full["id"], "fonds", offer_id=w.offers["starter"])
    assert wrong.status_code == 422

    # A DLA for a structure created a year ago: warned, with a Starter ESS operator named.
    a_year_ago = (w.clock.now() - timedelta(days=365)).date()
    young = await new_project(
        w,
        "accueil",
        stage="developpement",
        structure_created_on=a_year_ago.isoformat(),
        legal_form="association",
    )
    to_dla = await sent(w, "accueil", young["id"], "dla")
    (warning,) = to_dla["warnings"]
    assert "Starter ESS" in warning
    named = re.search(r"\((mbr_[A-Za-z0-9_]+)\)", warning)
    assert named, warning
    async with w.session() as session:
        starter = await session.get(KnownMember, named.group(1))
        assert starter is not None and "starter_ess" in starter.schemes
        assert starter.name in warning
        offers = (
            await session.exec(select(KnownOffer).where(KnownOffer.member_id == starter.id))
        ).all()
    from services.referral.policies import covers

    assert any(covers(o.territories, "80021") for o in offers), (
        "the named operator covers the commune"
    )
    if starter.id == w.members["starter"]:
        assert MEMBERS["starter"][0] in warning
    # ... a structure created four years ago is the DLA's business: no warning.
    older = await new_project(
        w, "accueil", stage="developpement", structure_created_on=date(2021, 6, 1).isoformat()
    )
    assert (await sent(w, "accueil", older["id"], "dla"))["warnings"] == []
    # ... and a project with no structure yet says nothing about age.
    assert (await sent(w, "accueil", thin["id"], "dla"))["warnings"] == []

    # An offer whose territory does not cover the project's commune: a warning, not a refusal.
    elsewhere = await sent(w, "accueil", thin["id"], "incubateur", offer_id=w.offers["incubateur"])
    assert len(elsewhere["warnings"]) == 1 and "territoire" in elsewhere["warnings"][0]
    covered = await sent(w, "accueil", thin["id"], "starter", offer_id=w.offers["starter"])
    assert covered["warnings"] == []
    # the warnings are kept in the timeline
    line = (await w.get("accueil", f"/v1/projects/{thin['id']}/timeline")).json()
    send_warnings = [
        e["details"]["warnings"] for e in line["events"] if e["referral_id"] == elsewhere["id"]
    ]
    assert send_warnings == [elsewhere["warnings"]]


# --- erasure -------------------------------------------------------------------------------


async def test_erasure_shreds_the_contacts_and_indicators_still_count(world: World) -> None:
    w = world
    owner = "effacement"
    project = await new_project(w, owner)
    pid = project["id"]
    referral = await sent(w, owner, pid, "starter")
    await act(w, "starter", referral["id"], "accept", message=f"Bienvenue {MARK}")
    await w.post(
        owner,
        f"/v1/referrals/{referral['id']}/messages",
        {"body": f"Son numéro {PORTEUR['phone']}"},
    )
    assert (await w.get("starter", f"/v1/projects/{pid}")).json()["porteur"] == PORTEUR
    thread = (await w.get("starter", f"/v1/referrals/{referral['id']}/messages")).json()
    assert len(thread) == 2 and all(m["body"] for m in thread)

    async def counted() -> bool:
        body = (
            await w.client.get(
                w.stack.url("evaluation") + "/v1/indicators", headers=await w.auth(owner)
            )
        ).json()
        by_member = {m["member_id"]: m for m in body["by_member"]}
        return by_member.get(w.members[owner], {}).get("sent") == 1

    await wait_until(counted, what="evaluation counting the referral")

    # Only the owner member or an operator of its network may erase.
    assert (await w.post("starter", f"/v1/projects/{pid}/erase")).status_code == 404
    assert (await w.post("operateur_essor", f"/v1/projects/{pid}/erase")).status_code == 404
    erased = await w.post("operateur", f"/v1/projects/{pid}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"] is True

    # The contacts cannot be read anywhere any more.
    for reader in (owner, "starter"):
        seen = (await w.get(reader, f"/v1/projects/{pid}")).json()
        assert seen["erased"] is True
        assert seen["porteur"] is None and seen["title"] is None
        assert seen["description"] is None and seen["needs"] is None
        thread = (await w.get(reader, f"/v1/referrals/{referral['id']}/messages")).json()
        assert len(thread) == 2 and [m["body"] for m in thread] == [None, None]
    async with w.session() as session:
        assert await session.get(ProjectKey, pid) is None
        row = await session.get(Project, pid)
        assert row is not None and row.sealed is None and row.erased_at is not None
        sealed_messages = (
            await session.exec(select(Message).where(Message.project_id == pid))
        ).all()
    assert sealed_messages  # the ciphertexts may stay: without the key they are noise
    # ... nor be written again.
    late = await w.post("starter", f"/v1/referrals/{referral['id']}/messages", {"body": "encore ?"})
    assert late.status_code == 409
    assert (await send(w, owner, pid, "dla")).status_code == 404
    # erasing twice is harmless
    assert (await w.post(owner, f"/v1/projects/{pid}/erase")).status_code == 200

    erased_event = await wait_for_event(w, pid, "project_erased")
    assert erased_event["actor"].startswith("user:")
    # the journey's facts stay, pseudonymous: indicators still count it
    await wait_until(counted, what="indicators after erasure")
    line = (await w.get("starter", f"/v1/projects/{pid}/timeline")).json()
    # Erasure cancelled the open referral: nothing goes on without the porteur's data.
    assert [e["action"] for e in line["events"]] == ["send", "accept", "cancel"]


# --- escalation ----------------------------------------------------------------------------


async def test_reminder_expiry_escalation_and_the_stopped_clock(world: World) -> None:
    w = world
    t0 = w.clock.now()
    project = await new_project(w, "accueil")
    pid = project["id"]
    silent = await sent(w, "accueil", pid, "starter")  # never answered
    asked = await sent(w, "accueil", pid, "incubateur")  # the receiver asks for information
    stuck = await sent(w, "accueil", pid, "fabrique")  # accepted, never started
    await act(w, "fabrique", stuck["id"], "accept")
    busy = await sent(w, "accueil", pid, "cae")  # in progress when its receiver is suspended
    await act(w, "cae", busy["id"], "accept")
    await act(w, "cae", busy["id"], "start")

    async def queue(who: str = "operateur") -> dict[str, str]:
        r = await w.get(who, "/v1/escalations")
        assert r.status_code == 200, r.text
        return {e["referral_id"]: e["reason"] for e in r.json()}

    assert (await w.get("accueil", "/v1/escalations")).status_code == 403
    assert not {silent["id"], asked["id"], stuck["id"], busy["id"]} & set(await queue())

    w.clock.set(t0 + timedelta(days=5))
    await act(w, "incubateur", asked["id"], "request-info", message=f"Quel local ? {MARK}")
    assert (await timer(w, EXPIRY_TIMER, asked["id"])).state == "cancelled"  # type: ignore[union-attr]

    # +10 days: a reminder for the unanswered one, none for the one waiting for its sender.
    w.clock.set(t0 + timedelta(days=10, minutes=1))
    reminder = await wait_for_event(w, pid, "reminder_due", referral_id=silent["id"])
    assert reminder["days_open"] == 10
    assert reminder["receiver_member_id"] == w.members["starter"]
    assert await status_of(w, "accueil", silent["id"]) == "sent"
    assert (await timer(w, REMINDER_TIMER, asked["id"])).state == "cancelled"  # type: ignore[union-attr]

    # +21 days: the accepted one that never started is stuck.
    w.clock.set(t0 + timedelta(days=21, minutes=1))
    assert (await queue()).get(stuck["id"]) == "acceptee_sans_demarrage"

    # +30 days: the unanswered one expires and fills the operator's queue; not the other.
    w.clock.set(t0 + timedelta(days=30, minutes=1))

    async def expired() -> bool:
        return await status_of(w, "accueil", silent["id"]) == "expired"

    await wait_until(expired, what="expiry at +30 days")
    await wait_for_event(w, pid, "expired", referral_id=silent["id"])
    assert (await queue()).get(silent["id"]) == "expiree"
    assert silent["id"] not in await queue("operateur_essor")  # another network's queue
    await w.stack.runtime("referral").timers.run_due()  # whatever was due has fired
    assert await status_of(w, "accueil", asked["id"]) == "info_requested"
    async with w.session() as session:
        row = await session.get(Referral, asked["id"])
        assert (
            row is not None and row.expiry_remaining_seconds == timedelta(days=25).total_seconds()
        )
    assert (await w.post("starter", f"/v1/referrals/{silent['id']}/accept")).status_code == 409

    # The sender answers at +32 days: the clock runs again for the 25 days that were left.
    w.clock.set(t0 + timedelta(days=32))
    answered = await act(
        w, "accueil", asked["id"], "provide-info", message=f"Rue des Trois Cailloux {MARK}"
    )
    assert answered["status"] == "sent"
    due = await timer(w, EXPIRY_TIMER, asked["id"])
    assert due is not None and due.state == "pending"
    assert due.due_at == t0 + timedelta(days=57)
    # Asked again at +40 days (17 days left), answered at +41: it now expires at +58 days.
    w.clock.set(t0 + timedelta(days=40))
    await act(w, "incubateur", asked["id"], "request-info")
    async with w.session() as session:
        row = await session.get(Referral, asked["id"])
        assert (
            row is not None and row.expiry_remaining_seconds == timedelta(days=17).total_seconds()
        )
    w.clock.set(t0 + timedelta(days=41))
    await act(w, "accueil", asked["id"], "provide-info")
    w.clock.set(t0 + timedelta(days=57, minutes=1))
    await w.stack.runtime("referral").timers.run_due()
    assert await status_of(w, "accueil", asked["id"]) == "sent"
    due = await timer(w, EXPIRY_TIMER, asked["id"])
    assert due is not None and due.state == "pending" and due.due_at == t0 + timedelta(days=58)
    w.clock.set(t0 + timedelta(days=58, minutes=1))

    async def expired_after_info() -> bool:
        return await status_of(w, "accueil", asked["id"]) == "expired"

    await wait_until(expired_after_info, what="expiry once the remaining time elapsed")
    assert (await queue()).get(asked["id"]) == "expiree"

    # A suspended member's open referrals fill the queue too.
    directory = w.stack.url("directory")
    suspended = await w.client.post(
        directory + f"/v1/members/{w.members['cae']}/suspend",
        json={"reason": "test"},
        headers=await w.auth("operateur"),
    )
    assert suspended.status_code == 200, suspended.text
    try:

        async def in_queue() -> bool:
            return (await queue()).get(busy["id"]) == "structure_suspendue"

        await wait_until(in_queue, what="suspended member's referral in the queue")
        refused = await send(w, "accueil", pid, "cae")
        assert refused.status_code == 409  # nothing new to a suspended member
    finally:
        r = await w.client.post(
            directory + f"/v1/members/{w.members['cae']}/reactivate",
            headers=await w.auth("operateur"),
        )
        assert r.status_code == 200, r.text


# --- personal data stays home --------------------------------------------------------------


async def _all_records(bootstrap: str) -> dict[str, list[ConsumerRecord[bytes, bytes]]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: dict[str, list[ConsumerRecord[bytes, bytes]]] = {t: [] for t in topics}
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                records[tp.topic].extend(batch)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return records
    finally:
        await consumer.stop()


async def test_no_porteur_data_in_any_record_or_file(world: World) -> None:
    """Run last: every record of every topic, and every database file, without the porteur."""
    w = world

    async def drained() -> bool:
        for service in w.stack.services.values():
            async with service.runtime.db.session() as session:
                unsent = (
                    await session.exec(
                        select(func.count()).where(col(OutboxRecord.published_at).is_(None))
                    )
                ).one()
                if unsent:
                    return False
        return True

    await wait_until(drained, what="every outbox published")
    records = await _all_records(w.bootstrap)
    # Member tools write commands themselves (and their dead letters are theirs verbatim).
    scanned = {t: rs for t, rs in records.items() if not t.startswith("referral.commands")}
    assert len(scanned.get("referral.events", [])) > 50
    assert scanned.get("directory.events")
    leaks = []
    for topic, batch in scanned.items():
        for record in batch:
            raw = b"".join(
                [record.key or b"", record.value or b""] + [v for _, v in record.headers]
            )
            for secret in SECRETS:
                if secret.encode() in raw:
                    leaks.append((topic, record.offset, secret))
    assert not leaks, leaks

    # At rest: only ciphertext in every service's database files.
    files = [p for p in w.var_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("referral") for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in content, (path.name, secret)
