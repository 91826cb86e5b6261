"""Directory offers: every admin change is an event with its actor; stale offers are flagged
and their owners reminded by the daily durable timer (the clock moves, nothing sleeps)."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import AIOKafkaConsumer
from sqlmodel import select

from contracts.events.directory import TOPIC
from services.kit.outbox import OutboxRecord
from tests.harness.directory import ADMIN, OFFER, _bearer, _member, _network
from tests.harness.kafka import read_topic
from tests.harness.stack import wait_until


async def _outbox_types(running, member_id: str) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    async with running.runtime.db.session() as session:
        rows = (await session.exec(select(OutboxRecord).order_by(OutboxRecord.id))).all()
    return [(r.type.split(".")[3], r.data.get("actor")) for r in rows if r.key == member_id]


async def test_every_admin_change_is_an_event_with_its_actor(directory, kafka_bootstrap) -> None:  # type: ignore[no-untyped-def]
    client, _, running = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "Coopérative d'Amiens", "tremplin")
    auth = await _bearer(client, api_key=key)
    offer = (
        await client.post("/v1/offers", json={**OFFER, "member_id": member}, headers=auth)
    ).json()
    await client.patch(f"/v1/offers/{offer['id']}", json={"capacity": "full"}, headers=auth)
    await client.patch(f"/v1/offers/{offer['id']}", json={"title": "Nouvel intitulé"}, headers=auth)
    await client.delete(f"/v1/offers/{offer['id']}", headers=auth)
    await client.patch(
        f"/v1/members/{member}", json={"website": "https://exemple.test"}, headers=ADMIN
    )
    await client.post(f"/v1/members/{member}/suspend", json={"reason": "fermeture"}, headers=ADMIN)

    assert await _outbox_types(running, member) == [
        ("member_registered", "platform-admin"),
        ("offer_published", f"member:{member}"),
        ("offer_capacity_changed", f"member:{member}"),
        ("offer_updated", f"member:{member}"),
        ("offer_withdrawn", f"member:{member}"),
        ("member_updated", "platform-admin"),
        ("member_suspended", "platform-admin"),
    ]
    records = await read_topic(kafka_bootstrap, TOPIC, at_least=1)
    ours = [r for r in records if r.key == member.encode()]
    await wait_until(
        lambda: _published(kafka_bootstrap, member, 7), what="the seven events on directory.events"
    )
    assert ours is not None


async def _published(bootstrap: str, member: str, count: int) -> bool:
    records = await read_topic(bootstrap, TOPIC, at_least=1, timeout=5)
    return sum(1 for r in records if r.key == member.encode()) >= count


async def test_stale_offers_are_flagged_and_reminded_once_a_month(
    directory, kafka_bootstrap
) -> None:  # type: ignore[no-untyped-def]
    client, clock, running = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "Incubateur", "tremplin")
    auth = await _bearer(client, api_key=key)
    offer = (
        await client.post("/v1/offers", json={**OFFER, "member_id": member}, headers=auth)
    ).json()
    assert offer["stale"] is False

    seen: list[bytes] = []
    watcher = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await watcher.start()

    async def reminders() -> int:
        # Counted on the broker: the outbox purges published rows as the clock moves on.
        for batch in (await watcher.getmany(timeout_ms=300)).values():
            seen.extend(
                r.key or b""
                for r in batch
                if dict(r.headers).get("ce_type")
                == b"fr.relais.directory.offer_freshness_reminder.v1"
            )
        return seen.count(member.encode())

    clock.advance(timedelta(days=150))
    await running.runtime.timers.run_due()
    await running.runtime.relay.publish_pending()
    assert await reminders() == 0, "not stale yet"

    clock.advance(timedelta(days=40))  # 190 days without an update
    await wait_until(lambda: _at_least(reminders, 1), what="the first freshness reminder")
    listed = (await client.get(f"/v1/offers?member={member}&stale=true")).json()
    assert [o["id"] for o in listed] == [offer["id"]] and listed[0]["stale"] is True

    clock.advance(timedelta(days=1))
    await running.runtime.timers.run_due()
    await running.runtime.relay.publish_pending()
    assert await reminders() == 1, "at most one reminder a month"
    clock.advance(timedelta(days=30))
    await wait_until(lambda: _at_least(reminders, 2), what="the next month's reminder")

    await watcher.stop()
    auth = await _bearer(client, api_key=key)  # months have passed: a fresh token
    updated = await client.patch(
        f"/v1/offers/{offer['id']}", json={"description": "à jour"}, headers=auth
    )
    assert updated.status_code == 200, updated.text
    assert (await client.get(f"/v1/offers/{offer['id']}")).json()["stale"] is False


async def _at_least(probe, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await probe() >= n)
