"""The porteur's own door: a public self-referral, the private link, erasure, anonymisation.

In-process stack on the real broker with a ManualClock: no test sleeps for a business delay.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.kit.clock import ManualClock
from services.kit.errors import ApiError
from services.kit.outbox import OutboxRecord
from services.kit.timers import TimerRecord
from services.referral.handlers import porteur, retention
from services.referral.models import (
    KnownMember,
    PorteurLink,
    Project,
    ProjectKey,
    Referral,
    SelfReferralAttempt,
    SelfReferralForm,
)
from tests.harness.kafka import read_topic
from tests.harness.stack import Stack, register, running_stack, token_for, wait_until

PERSON = {
    "name": "Dominique Lenoir",
    "email": "dominique.lenoir@exemple.fr",
    "phone": "0611223344",
}


def form(member_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member_id": member_id,
        "title": "Ressourcerie de quartier",
        "description": "Une ressourcerie associative pour le quartier Saint-Leu.",
        "needs": "Trouver un local et construire le modèle économique",
        "stage": "idee",
        "commune": "80021",
        "themes": ["economie_circulaire"],
        "porteur": PERSON,
        "consent": True,
    }
    body.update(changes)
    return body


async def _bearer(client: httpx.AsyncClient, stack: Stack, api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token_for(client, stack, api_key)}"}


async def _known(stack: Stack, *member_ids: str) -> bool:
    async with stack.runtime("referral").db.session() as session:
        return all([await session.get(KnownMember, m) is not None for m in member_ids])


def _secret(link: str) -> str:
    return link.rsplit("/", 1)[1]


async def _project_of(stack: Stack, link: str) -> Project:
    async with stack.runtime("referral").db.session() as session:
        row = await session.get(PorteurLink, porteur.hash_secret(_secret(link)))
        assert row is not None
        project = await session.get(Project, row.project_id)
        assert project is not None
        return project


async def test_porteur_door(
    kafka_bootstrap: str, unique_name, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("door"),
            webhook_url=None,
            clock=clock,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        base = stack.url("referral")
        receiver, receiver_key = await register(client, stack, "Incubateur de Lille")
        other, other_key = await register(client, stack, "Coopérative d'Amiens")
        await wait_until(lambda: _known(stack, receiver, other), what="referral's directory copy")
        public = base + "/v1/public/self-referrals"

        # --- a self-referral returns a private link ---------------------------------------
        first = await client.post(public, json=form(receiver))
        assert first.status_code == 201, first.text
        receipt = first.json()
        assert receipt["status"] == "sent" and receipt["label"].startswith("Envoyée")
        link_a = receipt["link"]
        assert link_a.startswith(base + "/v1/public/requests/")
        assert len(_secret(link_a)) >= 43  # 256 bits, base64url
        assert first.headers["cache-control"] == "no-store"
        async with stack.runtime("referral").db.session() as session:
            stored = (await session.exec(select(PorteurLink))).all()
            assert [row.secret_hash for row in stored] == [porteur.hash_secret(_secret(link_a))]
            attempts = (await session.exec(select(SelfReferralAttempt))).all()
            assert all("127.0.0.1" not in a.bucket and "exemple" not in a.bucket for a in attempts)

        # --- abuse is refused, in French --------------------------------------------------
        trap = await client.post(public, json=form(receiver, website="http://spam.example"))
        assert trap.status_code == 422 and trap.json()["error"]["code"] == "public.rejected"
        unticked = await client.post(public, json=form(receiver, consent=False))
        assert unticked.status_code == 422
        assert "consentement" in unticked.json()["error"]["message"]
        links = " ".join(f"https://promo{i}.example/achat" for i in range(3))
        spam = await client.post(public, json=form(receiver, description=links))
        assert spam.status_code == 422 and spam.json()["error"]["code"] == "public.spam"
        huge = await client.post(public, json=form(receiver, description="x" * 20_000))
        assert huge.status_code == 413, huge.text
        assert "trop volumineuse" in huge.json()["error"]["message"]
        long_field = await client.post(public, json=form(receiver, description="x" * 2_500))
        assert long_field.status_code == 422  # refused by the schema: not an attempt
        unknown_member = await client.post(public, json=form("mbr_nobody"))
        assert unknown_member.status_code == 422

        # --- the rate limit: 5 attempts per hour from one address -------------------------
        other_person = {**PERSON, "email": "alix.martin@exemple.fr", "name": "Alix Martin"}
        limited = await client.post(public, json=form(receiver, porteur=other_person))
        assert limited.status_code == 429, limited.text
        assert 0 < int(limited.headers["retry-after"]) <= 3600
        assert "Trop de demandes" in limited.json()["error"]["message"]
        clock.advance(timedelta(minutes=61))
        second = await client.post(public, json=form(receiver, porteur=other_person))
        assert second.status_code == 201, second.text
        link_b = second.json()["link"]

        # --- the link shows where the request stands --------------------------------------
        status = (await client.get(link_a)).json()
        assert status["status"] == "sent"
        assert status["label"] == "Envoyée : en attente de la réponse de la structure"
        assert status["member"] == {"id": receiver, "name": "Incubateur de Lille"}
        assert status["consent"] == "active" and status["erased"] is False
        english = (await client.get(link_a, params={"lang": "en"})).json()
        assert english["label"].startswith("Sent")
        unknown = await client.get(base + "/v1/public/requests/" + "A" * 43)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "public.link_unknown"

        # --- the member asked sees the request in its inbox --------------------------------
        as_receiver = await _bearer(client, stack, receiver_key)
        inbox = await client.get(
            base + "/v1/referrals",
            params={"direction": "received", "member": porteur.SELF_REFERRAL_SENDER},
            headers=as_receiver,
        )
        assert inbox.status_code == 200, inbox.text
        by_id = {r["id"]: r for r in inbox.json()}
        assert set(by_id) == {receipt["reference"], second.json()["reference"]}
        request_a = by_id[receipt["reference"]]
        assert request_a["sender_member_id"] == "porteur"
        assert "accept" in request_a["allowed_actions"]
        project_a = request_a["project_id"]
        file_a = await client.get(base + f"/v1/projects/{project_a}", headers=as_receiver)
        assert file_a.json()["owner_member_id"] == receiver
        assert file_a.json()["porteur"]["email"] == PERSON["email"]
        as_other = await _bearer(client, stack, other_key)
        hidden = await client.get(base + f"/v1/referrals/{request_a['id']}", headers=as_other)
        assert hidden.status_code == 404

        # --- the porteur downloads their data ----------------------------------------------
        download = await client.get(link_a + "/data")
        assert download.status_code == 200, download.text
        assert "attachment" in download.headers["content-disposition"]
        data = download.json()
        assert data["porteur"] == PERSON
        assert data["project"]["title"] == "Ressourcerie de quartier"
        assert data["project"]["needs"].startswith("Trouver un local")
        assert data["consents"][0]["collected_by"] == "porteur:public-form"
        assert data["referrals"][0]["to"] == "Incubateur de Lille"
        assert "consultation" in [e["purpose"] for e in data["access_log"]]

        # --- the access log, for the owner (and operators), not for others ----------------
        log = await client.get(base + f"/v1/projects/{project_a}/access-log", headers=as_receiver)
        assert log.status_code == 200, log.text
        purposes = [e["purpose"] for e in log.json()]
        assert "consultation" in purposes and "export_porteur" in purposes
        denied = await client.get(base + f"/v1/projects/{project_a}/access-log", headers=as_other)
        assert denied.status_code == 404

        # --- withdrawing consent cancels the request ---------------------------------------
        withdrawn = await client.post(link_a + "/withdraw-consent")
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["status"] == "consentement_retire"
        assert withdrawn.json()["journey"][0]["status"] == "cancelled"
        after = await client.get(base + f"/v1/referrals/{request_a['id']}", headers=as_receiver)
        assert after.json()["status"] == "cancelled"

        # --- erasure makes the data unreadable; the link says "effacé" --------------------
        erased = await client.post(link_b + "/erase")
        assert erased.status_code == 200, erased.text
        assert erased.json()["status"] == "efface" and "effacée" in erased.json()["label"]
        shown = (await client.get(link_b)).json()
        assert shown["status"] == "efface" and "effacé" in shown["label"] and shown["erased"]
        assert shown["actions"] == {}
        gone = await client.get(link_b + "/data")
        assert gone.status_code == 410 and "effacée" in gone.json()["error"]["message"]
        project_b = await _project_of(stack, link_b)
        assert project_b.sealed is None and project_b.erased_at is not None
        async with stack.runtime("referral").db.session() as session:
            assert await session.get(ProjectKey, project_b.id) is None
        seen = await client.get(base + f"/v1/projects/{project_b.id}", headers=as_receiver)
        assert seen.json()["erased"] is True
        assert seen.json()["title"] is None and seen.json()["porteur"] is None

        # --- per contact too: another address, the same email ------------------------------
        deps = stack.services["referral"].app.state.referral_deps
        robot = SelfReferralForm.model_validate(
            form(receiver, website="x", porteur={**PERSON, "email": "robot@exemple.fr"})
        )
        async with stack.runtime("referral").db.session() as session:
            for i in range(porteur.LIMITS.per_hour):
                with pytest.raises(ApiError) as refused:
                    await porteur.self_refer(
                        session, robot, client_address=f"203.0.113.{i}", deps=deps
                    )
                assert refused.value.code == "public.rejected"
            with pytest.raises(porteur.RateLimited):
                await porteur.self_refer(session, robot, client_address="198.51.100.9", deps=deps)

        # --- nothing half-written: a request that cannot be opened leaves no readable file -
        async def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("disque plein")

        monkeypatch.setattr(porteur.form, "_open_request", broken)
        careful = SelfReferralForm.model_validate(
            form(receiver, porteur={**PERSON, "email": "prudence@exemple.fr"})
        )
        async with stack.runtime("referral").db.session() as session:
            with pytest.raises(RuntimeError):
                await porteur.self_refer(session, careful, client_address="192.0.2.1", deps=deps)
        monkeypatch.undo()
        async with stack.runtime("referral").db.session() as session:
            referred = set((await session.exec(select(Referral.project_id))).all())
            orphans = [
                p for p in (await session.exec(select(Project))).all() if p.id not in referred
            ]
            assert len(orphans) == 1
            assert orphans[0].erased_at is not None and orphans[0].sealed is None
            assert await session.get(ProjectKey, orphans[0].id) is None

        # --- events never carry the porteur's identity -------------------------------------
        ours = {project_a, project_b.id}

        async def published() -> list[Any] | None:
            records = await read_topic(kafka_bootstrap, "referral.events", at_least=1)
            mine = [r for r in records if r.key and r.key.decode() in ours]
            types = {dict(r.headers)["ce_type"].decode() for r in mine}
            wanted = {"fr.relais.referral.sent.v1", "fr.relais.referral.project_erased.v1"}
            return mine if wanted <= types else None

        mine = await wait_until(published, what="the door's events on the broker")
        sent = [
            json.loads(r.value)
            for r in mine
            if dict(r.headers)["ce_type"] == b"fr.relais.referral.sent.v1"
        ]
        assert {e["sender_member_id"] for e in sent} == {"porteur"}
        for record in mine:
            text = record.value.decode()
            for value in (*PERSON.values(), *other_person.values()):
                assert value not in text
            assert "Ressourcerie" not in text


async def test_closed_journeys_are_anonymised_after_730_days(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("anon"),
            webhook_url=None,
            clock=clock,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        base = stack.url("referral")
        db = stack.runtime("referral").db
        receiver, receiver_key = await register(client, stack, "Starter ESS Somme")
        await wait_until(lambda: _known(stack, receiver), what="referral's directory copy")
        closed = await client.post(base + "/v1/public/self-referrals", json=form(receiver))
        still_open = await client.post(
            base + "/v1/public/self-referrals",
            json=form(receiver, porteur={**PERSON, "email": "sacha@exemple.fr"}),
        )
        assert closed.status_code == 201 and still_open.status_code == 201
        auth = await _bearer(client, stack, receiver_key)
        reference = closed.json()["reference"]
        for action, body in (("accept", None), ("complete", {"outcome": "structure_creee"})):
            done = await client.post(
                base + f"/v1/referrals/{reference}/{action}", json=body, headers=auth
            )
            assert done.status_code == 200, done.text
        open_reference = still_open.json()["reference"]
        accepted = await client.post(base + f"/v1/referrals/{open_reference}/accept", headers=auth)
        assert accepted.status_code == 200, accepted.text
        closed_at = clock.now()
        project = await _project_of(stack, closed.json()["link"])
        open_project = await _project_of(stack, still_open.json()["link"])

        async def daily_ran_after(moment: Any) -> bool:
            async with db.session() as session:
                timer = (
                    await session.exec(
                        select(TimerRecord).where(
                            TimerRecord.kind == retention.RETENTION_TIMER,
                            TimerRecord.key == "daily",
                        )
                    )
                ).one()
                return timer.state == "pending" and timer.due_at > moment

        async def erased(project_id: str) -> bool:
            async with db.session() as session:
                row = await session.get(Project, project_id)
                return row is not None and row.erased_at is not None

        # 729 days after the journey closed: the daily run leaves it alone.
        clock.set(closed_at + timedelta(days=729))
        await wait_until(lambda: daily_ran_after(clock.now()), what="daily retention run")
        async with db.session() as session:
            anonymise = (
                await session.exec(
                    select(TimerRecord).where(TimerRecord.kind == retention.ANONYMISE_TIMER)
                )
            ).all()
        assert anonymise == []
        assert not await erased(project.id)
        status = (await client.get(closed.json()["link"])).json()
        assert status["status"] == "completed" and status["erased"] is False

        # 731 days after: the journey is anonymised; the one still open is not.
        clock.set(closed_at + timedelta(days=731))
        await wait_until(lambda: erased(project.id), what="automatic anonymisation")
        await wait_until(lambda: daily_ran_after(clock.now()), what="daily retention run")
        assert not await erased(open_project.id)
        async with db.session() as session:
            assert await session.get(ProjectKey, project.id) is None
            events = (
                await session.exec(
                    select(OutboxRecord).where(
                        OutboxRecord.key == project.id,
                        OutboxRecord.type == "fr.relais.referral.project_erased.v1",
                    )
                )
            ).all()
        assert [e.data["actor"] for e in events] == [retention.ANONYMISATION_ACTOR]
        status = (await client.get(closed.json()["link"])).json()
        assert status["status"] == "efface" and "effacé" in status["label"]
        # The figures stay: the journey still reads back, without the porteur.
        auth = await _bearer(client, stack, receiver_key)
        kept = await client.get(base + f"/v1/referrals/{reference}", headers=auth)
        assert kept.json()["status"] == "completed"
        file = (await client.get(base + f"/v1/projects/{project.id}", headers=auth)).json()
        assert file["erased"] is True and file["porteur"] is None
        assert json.dumps(file).find(PERSON["email"]) == -1
