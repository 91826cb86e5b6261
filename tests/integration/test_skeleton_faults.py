"""Fault checks on the walking skeleton: a redelivered event, and a broker frozen mid-flight."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from services.kit.embedded import EmbeddedBroker
from services.kit.inbox import InboxRecord
from tests.harness.receiver import WebhookReceiver, webhook_receiver
from tests.harness.stack import Stack, orient, register, running_stack, token_for, wait_until


async def _wait_for_member_copy(stack: Stack, member_id: str) -> None:
    from services.referral.models import KnownMember

    async def known() -> bool:
        async with stack.runtime("referral").db.session() as session:
            return await session.get(KnownMember, member_id) is not None

    await wait_until(known, what="referral's copy of the receiving member")


async def _sent_count(client: httpx.AsyncClient, stack: Stack, auth: dict, member: str) -> int:
    body = (await client.get(stack.url("evaluation") + "/v1/indicators", headers=auth)).json()
    return next((m["sent"] for m in body["by_member"] if m["member_id"] == member), 0)


async def _inbox_rows_per_group(stack: Stack, service: str, event_id: str) -> dict[str, int]:
    """How many times each of the service's consumer groups recorded the event."""
    from sqlmodel import func, select

    async with stack.runtime(service).db.session() as session:
        found = await session.exec(
            select(InboxRecord.consumer, func.count())
            .where(InboxRecord.event_id == event_id)
            .group_by(InboxRecord.consumer)
        )
        return {group: int(n) for group, n in found.all()}


async def _setup(client: httpx.AsyncClient, stack: Stack) -> tuple[str, str, dict]:
    sender, key = await register(client, stack, "Fabrique à initiatives de Beauvais")
    receiver, _ = await register(client, stack, "DLA de l'Oise")
    auth = {"Authorization": f"Bearer {await token_for(client, stack, key)}"}
    await _wait_for_member_copy(stack, receiver)
    return sender, receiver, auth


async def _post_referral(client: httpx.AsyncClient, stack: Stack, auth: dict, to: str) -> dict:
    created = await orient(client, stack.url("referral"), auth, to, stage="idee", commune="60057")
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _webhooks_for(receiver: WebhookReceiver, referral_id: str) -> int:
    return sum(1 for r in receiver.requests if referral_id.encode() in r.body)


async def test_same_event_delivered_twice_changes_nothing_more(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        webhook_receiver() as receiver,
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("dup"),
            webhook_url=receiver.url,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        sender, to, auth = await _setup(client, stack)
        referral = await _post_referral(client, stack, auth, to)
        await wait_until(lambda: _webhooks_for(receiver, referral["id"]), what="first webhook")
        await wait_until(lambda: _sent_count(client, stack, auth, sender), what="first count")

        # Find the original record and put an identical copy back on the topic.
        consumer = AIOKafkaConsumer(
            REFERRAL_TOPIC,
            bootstrap_servers=kafka_bootstrap,
            group_id=unique_name("reader"),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
        )
        await consumer.start()
        try:

            async def find_record():  # type: ignore[no-untyped-def]
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        if referral["id"].encode() in (record.value or b""):
                            return record
                return None

            original = await wait_until(find_record, what="the referral.sent record")
        finally:
            await consumer.stop()
        event_id = dict(original.headers)["ce_id"].decode()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                REFERRAL_TOPIC,
                value=original.value,
                key=original.key,
                headers=list(original.headers),
            )
        finally:
            await producer.stop()

        from services.kit.metrics import EVENTS_CONSUMED

        async def both_saw_duplicate() -> bool:
            return all(
                EVENTS_CONSUMED.labels(
                    stack.runtime(name).settings.consumer_group(purpose),
                    "fr.relais.referral.sent.v1",
                    "duplicate",
                )._value.get()
                >= 1
                for name, purpose in (
                    ("notify", "referral-webhooks"),
                    ("evaluation", "referral-indicators"),
                )
            )

        await wait_until(both_saw_duplicate, what="both consumers to skip the duplicate")
        assert await _webhooks_for(receiver, referral["id"]) == 1
        assert await _sent_count(client, stack, auth, sender) == 1
        per_group = await _inbox_rows_per_group(stack, "evaluation", event_id)
        assert per_group and set(per_group.values()) == {1}, per_group


async def test_referral_made_while_broker_frozen_arrives_once_after_resume(
    kafka_bootstrap: str, embedded_broker: EmbeddedBroker, unique_name, tmp_path: Path
) -> None:
    async with (
        webhook_receiver() as receiver,
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("pause"),
            webhook_url=receiver.url,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        sender, to, auth = await _setup(client, stack)
        embedded_broker.pause()
        try:
            # The HTTP side does not need the broker: the referral commits with its outbox row.
            referral = await _post_referral(client, stack, auth, to)
            await asyncio.sleep(2)  # let the relay hit the frozen broker (a fault, not a delay)
            assert await _webhooks_for(receiver, referral["id"]) == 0
        finally:
            embedded_broker.resume()
        await wait_until(
            lambda: _webhooks_for(receiver, referral["id"]), timeout=60, what="webhook after resume"
        )
        await wait_until(
            lambda: _sent_count(client, stack, auth, sender), timeout=60, what="count after resume"
        )
        # Let any stray redelivery land, then check nothing was doubled.
        await asyncio.sleep(1)
        assert await _webhooks_for(receiver, referral["id"]) == 1
        assert await _sent_count(client, stack, auth, sender) == 1
