"""Webhooks to partner systems: subscriptions, signed deliveries, retries, replay, isolation.

Real broker (referral events published as the referral service does), real HTTP receivers,
SQLite and PostgreSQL where the database holds the retry state; a ManualClock moves through
the retry schedule, so nothing sleeps for a business delay.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.events.notify import EndpointDisabled
from contracts.events.referral import ReferralAccepted, ReferralDeclined, ReferralSent
from services.kit.outbox import OutboxRecord
from services.notify.people.models import FeedItem
from services.notify.webhooks import domain
from tests.harness.partner import Notify, Reply, notify_alone, partner_server
from tests.harness.stack import wait_until

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def ident(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def sent(sender: str, receiver: str, network: str | None, **facts: Any) -> ReferralSent:
    return ReferralSent(
        project_id=ident("prj"),
        referral_id=ident("ref"),
        sender_member_id=sender,
        receiver_member_id=receiver,
        network_id=network,
        stage="creation",
        commune="80021",
        actor=f"user:{ident('usr')}",
        **facts,
    )


async def subscribe(notify: Notify, headers: dict[str, str], url: str, **body: Any) -> dict:
    response = await notify.client.post(
        "/v1/subscriptions", json={"url": url, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created = dict(response.json())
    assert created["secret"].startswith("whsec_")
    return created


def verified(secret: str, request: Any) -> dict:
    return dict(Webhook(secret).verify(request.body, request.headers))


async def test_a_receiver_failing_three_times_gets_the_fourth_with_the_same_webhook_id(
    kafka_bootstrap: str, unique_name, tmp_path: Path, database_url: str
) -> None:
    async with (
        partner_server() as partner,
        notify_alone(
            kafka_bootstrap, tmp_path, unique_name("ntf"), database_url=database_url
        ) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member, networks=("net",))
        hook = partner.endpoint(Reply(500), Reply(502), Reply(503, body=b"<html>down</html>"))
        sub = await subscribe(notify, auth, hook.url)
        evt = sent(member, ident("mbr"), "net")
        envelope = await notify.publish(evt)
        delivery_id = domain.delivery_id(envelope.id, sub["id"])

        for attempts, wait in ((1, 5), (2, 300), (3, 1800)):
            await notify.wait_delivery(delivery_id, auth, lambda d, n=attempts: d["attempts"] == n)
            assert len(hook.requests) == attempts  # nothing before the clock reaches the retry
            notify.clock.advance(timedelta(seconds=wait))
        done = await notify.wait_delivery(delivery_id, auth, lambda d: d["status"] == "delivered")

        assert done["attempts"] == 4
        assert hook.ids() == [delivery_id] * 4
        payloads = [verified(sub["secret"], r) for r in hook.requests]
        assert {p["id"] for p in payloads} == {envelope.id}
        assert [a["status_code"] for a in done["log"]] == [500, 502, 503, 204]
        assert [a["outcome"] for a in done["log"]] == ["retry", "retry", "retry", "delivered"]
        assert done["log"][2]["response_excerpt"] == "<html>down</html>"
        assert all(a["duration_ms"] >= 0 for a in done["log"])


async def test_an_endpoint_that_always_fails_ends_failed_and_a_replay_succeeds(
    kafka_bootstrap: str, unique_name, tmp_path: Path, database_url: str
) -> None:
    async with (
        partner_server() as partner,
        notify_alone(
            kafka_bootstrap, tmp_path, unique_name("ntf"), database_url=database_url
        ) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member, roles=("member_admin",))
        hook = partner.endpoint(default=Reply(500))
        sub = await subscribe(notify, auth, hook.url)
        envelope = await notify.publish(sent(ident("mbr"), member, "net"))
        delivery_id = domain.delivery_id(envelope.id, sub["id"])

        for attempts in range(1, len(SCHEDULE)):
            await notify.wait_delivery(delivery_id, auth, lambda d, n=attempts: d["attempts"] == n)
            notify.clock.advance(timedelta(seconds=SCHEDULE[attempts]))
        failed = await notify.wait_delivery(delivery_id, auth, lambda d: d["status"] == "failed")
        assert failed["attempts"] == len(SCHEDULE)
        assert failed["log"][-1]["outcome"] == "failed"
        listed = await notify.client.get(
            "/v1/deliveries", params={"status": "failed", "subscription": sub["id"]}, headers=auth
        )
        assert [d["id"] for d in listed.json()] == [delivery_id]

        hook.default = Reply(200)  # the partner fixed its system
        replayed = await notify.client.post(f"/v1/deliveries/{delivery_id}/replay", headers=auth)
        assert replayed.status_code == 202, replayed.text
        done = await notify.wait_delivery(delivery_id, auth, lambda d: d["status"] == "delivered")
        assert done["attempts"] == len(SCHEDULE) + 1
        assert set(hook.ids()) == {delivery_id}
        verified(sub["secret"], hook.requests[-1])
        again = await notify.client.post(f"/v1/deliveries/{delivery_id}/replay", headers=auth)
        assert again.status_code == 202  # a delivered one may be sent again on request
        other = notify.mint.headers(member=ident("mbr"), roles=("member_admin",))
        hidden = await notify.client.post(f"/v1/deliveries/{delivery_id}/replay", headers=other)
        assert hidden.status_code == 404


async def test_a_funder_receives_its_network_thin_and_verifiable_and_members_only_theirs(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        partner_server() as partner,
        notify_alone(kafka_bootstrap, tmp_path, unique_name("ntf")) as notify,
    ):
        network, elsewhere = ident("net"), ident("net")
        a, b, c, d = (ident("mbr") for _ in range(4))
        fund = notify.mint.headers(networks=(network,), roles=("funder",))
        fund_hook, a_hook, c_hook = partner.endpoint(), partner.endpoint(), partner.endpoint()
        fund_sub = await subscribe(notify, fund, fund_hook.url)
        assert fund_sub["network_ids"] == [network] and fund_sub["owner"]["kind"] == "network"
        a_sub = await subscribe(notify, notify.mint.headers(member=a), a_hook.url)
        c_sub = await subscribe(
            notify,
            notify.mint.headers(member=c),
            c_hook.url,
            event_types=[ReferralSent.type_name],
        )
        wider = await notify.client.post(
            "/v1/subscriptions",
            json={"url": fund_hook.url, "network_ids": [network, elsewhere]},
            headers=fund,
        )
        assert wider.status_code == 403, wider.text

        first = sent(a, b, network, themes=["alimentation"])
        other_network = sent(c, d, elsewhere)
        to_a = sent(d, a, elsewhere)
        accepted = ReferralAccepted(
            project_id=first.project_id,
            referral_id=first.referral_id,
            sender_member_id=a,
            receiver_member_id=b,
        )
        declined = ReferralDeclined(
            project_id=other_network.project_id,
            referral_id=other_network.referral_id,
            sender_member_id=c,
            receiver_member_id=d,
            reason="hors_territoire",
        )
        envelopes = [
            await notify.publish(e) for e in (first, other_network, to_a, accepted, declined)
        ]
        await notify.processed(*envelopes)

        fund_payloads = [verified(fund_sub["secret"], r) for r in fund_hook.requests]
        assert sorted((p["type"], p["data"]["referral_id"]) for p in fund_payloads) == sorted(
            [(ReferralSent.type_name, first.referral_id), (accepted.type_name, first.referral_id)]
        )
        for payload in fund_payloads:
            assert set(payload["data"]) <= set(domain.PAYLOAD_FIELDS) | {"status"}
            assert "actor" not in payload["data"]
            assert payload["data"]["network_id"] == network  # `accepted` says it via notify
        statuses = {p["type"]: p["data"]["status"] for p in fund_payloads}
        assert statuses == {ReferralSent.type_name: "sent", accepted.type_name: "accepted"}

        a_refs = sorted(
            verified(a_sub["secret"], r)["data"]["referral_id"] for r in a_hook.requests
        )
        assert a_refs == sorted([first.referral_id, first.referral_id, to_a.referral_id])
        c_types = [verified(c_sub["secret"], r)["type"] for r in c_hook.requests]
        assert c_types == [ReferralSent.type_name]  # its filter: not the decline

        listed = await notify.client.get("/v1/subscriptions", headers=fund)
        assert [s["id"] for s in listed.json()] == [fund_sub["id"]]
        assert "secret" not in listed.json()[0]
        peek = await notify.client.get(
            f"/v1/subscriptions/{a_sub['id']}", headers=notify.mint.headers(member=c)
        )
        assert peek.status_code == 404


UNSAFE = [
    ("ftp://partenaire.example/hook", "http:// ou https://"),
    ("http:///hook", "sans nom d'hôte"),
    ("http://169.254.169.254/latest/meta-data", "service de métadonnées"),
    ("http://[::ffff:169.254.169.254]/", "service de métadonnées"),
    ("http://10.1.2.3/hook", "réseau privé"),
    ("http://192.168.0.10:8080/hook", "réseau privé"),
    ("http://[fe80::1]/hook", "lien local"),
    ("http://127.0.0.1:9/hook", "boucle locale"),
    ("http://localhost:9/hook", "boucle locale"),
]


async def test_unsafe_webhook_urls_get_a_422_in_french(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with notify_alone(
        kafka_bootstrap,
        tmp_path,
        unique_name("ntf"),
        consuming=False,
        webhook_allow_loopback=False,
    ) as notify:
        auth = notify.mint.headers(member=ident("mbr"))
        created = await notify.client.post(
            "/v1/subscriptions", json={"url": "https://93.184.215.14/hook"}, headers=auth
        )
        assert created.status_code == 201, created.text
        for url, fragment in UNSAFE:
            refused = await notify.client.post("/v1/subscriptions", json={"url": url}, headers=auth)
            assert refused.status_code == 422, (url, refused.text)
            assert fragment in refused.json()["error"]["message"], url
            moved = await notify.client.patch(
                f"/v1/subscriptions/{created.json()['id']}", json={"url": url}, headers=auth
            )
            assert moved.status_code == 422, url
        english = await notify.client.post(
            "/v1/subscriptions",
            json={"url": "http://169.254.169.254/"},
            headers={**auth, "Accept-Language": "en"},
        )
        assert english.json()["error"]["message"].startswith("Webhook URL refused")


async def test_a_410_disables_the_subscription_and_tells_its_owner(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        partner_server() as partner,
        notify_alone(kafka_bootstrap, tmp_path, unique_name("ntf")) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member)
        hook = partner.endpoint(default=Reply(410))
        sub = await subscribe(notify, auth, hook.url)
        envelope = await notify.publish(sent(member, ident("mbr"), "net"))
        delivery_id = domain.delivery_id(envelope.id, sub["id"])
        gone = await notify.wait_delivery(delivery_id, auth, lambda d: d["status"] == "failed")
        assert gone["attempts"] == 1 and gone["log"][0]["outcome"] == "gone"
        state = (await notify.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
        assert (state["status"], state["disabled_reason"]) == ("disabled", "gone")
        async with notify.runtime.db.session() as session:
            told = (
                await session.exec(
                    select(OutboxRecord).where(
                        OutboxRecord.type == EndpointDisabled.type_name,
                        OutboxRecord.topic == EndpointDisabled.topic,  # not members' feeds
                    )
                )
            ).all()
        assert [(r.data["subscription_id"], r.data["owner_member_id"]) for r in told] == [
            (sub["id"], member)
        ]

        later = await notify.publish(sent(member, ident("mbr"), "net"))
        await notify.processed(later)
        assert len(hook.requests) == 1  # disabled: nothing more is sent
        back = await notify.client.patch(
            f"/v1/subscriptions/{sub['id']}", json={"status": "active"}, headers=auth
        )
        assert back.json()["status"] == "active"


async def test_retry_after_is_honoured(kafka_bootstrap: str, unique_name, tmp_path: Path) -> None:
    async with (
        partner_server() as partner,
        notify_alone(kafka_bootstrap, tmp_path, unique_name("ntf")) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member)
        hook = partner.endpoint(Reply(429, headers={"Retry-After": "120"}))
        sub = await subscribe(notify, auth, hook.url)
        envelope = await notify.publish(sent(member, ident("mbr"), None))
        delivery_id = domain.delivery_id(envelope.id, sub["id"])
        first = await notify.wait_delivery(delivery_id, auth, lambda d: d["attempts"] == 1)
        started = notify.clock.now()
        waited = first["next_attempt_at"]
        assert waited is not None
        assert datetime.fromisoformat(waited) - started == timedelta(seconds=120)  # not 5 s
        notify.clock.advance(timedelta(seconds=120))
        done = await notify.wait_delivery(delivery_id, auth, lambda d: d["status"] == "delivered")
        assert done["attempts"] == 2 and hook.ids() == [delivery_id, delivery_id]


async def test_a_slow_or_garbage_receiver_does_not_delay_another_endpoint(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async def garbage(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\xffnot http at all\r\n\r\n")
        await writer.drain()
        writer.close()

    junk = await asyncio.start_server(garbage, "127.0.0.1", 0)
    junk_port = junk.sockets[0].getsockname()[1]
    async with (
        junk,
        partner_server() as partner,
        notify_alone(
            kafka_bootstrap,
            tmp_path,
            unique_name("ntf"),
            webhook_max_in_flight_per_endpoint=2,
            webhook_max_in_flight=8,
        ) as notify,
    ):
        slow_member, junk_member, fast_member = ident("mbr"), ident("mbr"), ident("mbr")
        slow = partner.endpoint(default=Reply(204, delay=4.0))
        fast = partner.endpoint()
        slow_sub = await subscribe(notify, notify.mint.headers(member=slow_member), slow.url)
        await subscribe(
            notify, notify.mint.headers(member=junk_member), f"http://127.0.0.1:{junk_port}/h"
        )
        fast_auth = notify.mint.headers(member=fast_member)
        fast_sub = await subscribe(notify, fast_auth, fast.url)
        for _ in range(12):  # the slow endpoint's backlog: 6 rounds of 2 × 4 s
            await notify.publish(sent(slow_member, ident("mbr"), None))
            await notify.publish(sent(junk_member, ident("mbr"), None))
        published = time.monotonic()
        envelope = await notify.publish(sent(fast_member, ident("mbr"), None))
        delivery_id = domain.delivery_id(envelope.id, fast_sub["id"])
        await notify.wait_delivery(delivery_id, fast_auth, lambda d: d["status"] == "delivered")

        assert fast.requests[0].at - published < 3.0
        assert len(slow.answered) <= 2  # the slow one was still working through its backlog
        assert len(slow.requests) <= 4 and slow_sub["id"]
        junk_deliveries = await notify.client.get(
            "/v1/deliveries", headers=notify.mint.headers(member=junk_member)
        )
        errors = [d["last_error"] for d in junk_deliveries.json() if d["attempts"]]
        assert errors and all(e for e in errors)  # garbage is a failed attempt, retried later


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        partner_server() as partner,
        notify_alone(kafka_bootstrap, tmp_path, unique_name("ntf")) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member)
        hook = partner.endpoint()
        sub = await subscribe(notify, auth, hook.url)
        rotated = await notify.client.post(
            f"/v1/subscriptions/{sub['id']}/rotate-secret", json={"overlap_hours": 2}, headers=auth
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != sub["secret"]

        during = await notify.publish(sent(member, ident("mbr"), None))
        await notify.processed(during)
        request = hook.requests[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        verified(sub["secret"], request)
        verified(new_secret, request)

        notify.clock.advance(timedelta(hours=2, seconds=1))
        after = await notify.publish(sent(member, ident("mbr"), None))
        await notify.processed(after)
        request = hook.requests[-1]
        verified(new_secret, request)
        with pytest.raises(WebhookVerificationError):
            verified(sub["secret"], request)


async def test_a_pending_delivery_survives_a_restart_under_the_same_id(
    kafka_bootstrap: str, unique_name, tmp_path: Path, database_url: str
) -> None:
    group = unique_name("ntf")
    async with partner_server() as partner:
        hook = partner.endpoint(Reply(503))
        member = ident("mbr")
        async with notify_alone(
            kafka_bootstrap, tmp_path, group, database_url=database_url
        ) as notify:
            clock = notify.clock
            auth = notify.mint.headers(member=member)
            sub = await subscribe(notify, auth, hook.url)
            envelope = await notify.publish(sent(member, ident("mbr"), None))
            delivery_id = domain.delivery_id(envelope.id, sub["id"])
            await notify.wait_delivery(delivery_id, auth, lambda d: d["attempts"] == 1)
        # Stopped with the retry pending; a new process on the same database takes over.
        async with notify_alone(
            kafka_bootstrap,
            tmp_path,
            group,
            database_url=database_url,
            clock=clock,
            consuming=False,
        ) as notify:
            auth = notify.mint.headers(member=member)
            notify.clock.advance(timedelta(seconds=5))
            done = await notify.wait_delivery(
                delivery_id, auth, lambda d: d["status"] == "delivered"
            )
        assert done["attempts"] == 2
        assert hook.ids() == [delivery_id, delivery_id]


async def test_notify_split_in_two_processes_delivers_webhooks_and_tells_people(
    kafka_bootstrap: str, unique_name, tmp_path: Path, database_url: str
) -> None:
    """NOTIFY_PARTS: a webhooks-only and a people-only notify, same consumer-group prefix,
    each consume the same referral event for its own part (one database each on SQLite, one
    shared on PostgreSQL), and each serves only its part's routes."""
    shared = None if database_url.startswith("sqlite") else database_url
    prefix = unique_name("ntf")
    async with (
        partner_server() as partner,
        notify_alone(
            kafka_bootstrap, tmp_path / "w", prefix, database_url=shared, parts=["webhooks"]
        ) as webhooks,
        notify_alone(
            kafka_bootstrap,
            tmp_path / "p",
            prefix,
            database_url=shared,
            parts=["people"],
            consuming=False,
        ) as people,
    ):
        member = ident("mbr")
        auth = webhooks.mint.headers(member=member, networks=("net",))
        sub = await subscribe(webhooks, auth, partner.endpoint(Reply(204)).url)
        envelope = await webhooks.publish(sent(member, ident("mbr"), "net"))

        delivery = await webhooks.wait_delivery(
            domain.delivery_id(envelope.id, sub["id"]), auth, lambda d: d["status"] == "delivered"
        )
        assert delivery["attempts"] == 1

        async def told() -> bool:
            async with people.runtime.db.session() as session:
                items = (
                    await session.exec(select(FeedItem).where(FeedItem.event_id == envelope.id))
                ).all()
            return bool(items)

        await wait_until(told, timeout=60, what="the people part's feed item")
        assert (await people.client.get("/v1/subscriptions", headers=auth)).status_code == 404
        assert (await webhooks.client.get("/v1/preferences", headers=auth)).status_code == 404


async def test_a_subscription_change_applies_to_the_very_next_event(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    """The fan-out reads active subscriptions from a short-lived list; a change committed by
    the API clears it, so the next event already follows it."""
    async with (
        partner_server() as partner,
        notify_alone(kafka_bootstrap, tmp_path, unique_name("ntf")) as notify,
    ):
        member = ident("mbr")
        auth = notify.mint.headers(member=member, networks=("net",))
        first = await subscribe(notify, auth, partner.endpoint(Reply(204)).url)
        before = await notify.publish(sent(member, ident("mbr"), "net"))
        await notify.processed(before)
        await notify.delivery(domain.delivery_id(before.id, first["id"]), auth)

        gone = await notify.client.delete(f"/v1/subscriptions/{first['id']}", headers=auth)
        assert gone.status_code == 204
        second = await subscribe(notify, auth, partner.endpoint(Reply(204)).url)
        after = await notify.publish(sent(member, ident("mbr"), "net"))
        await notify.processed(after)

        await notify.delivery(domain.delivery_id(after.id, second["id"]), auth)
        missing = await notify.client.get(
            f"/v1/deliveries/{domain.delivery_id(after.id, first['id'])}", headers=auth
        )
        assert missing.status_code == 404
