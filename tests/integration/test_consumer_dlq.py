"""Poison records never block a partition: the real broker, FastStream and `EventConsumer`.

Records that cannot be parsed or handled go to `<topic>.dlq` with the reason and the error in
headers, the original record preserved; the consumer goes on with the next record.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker
from sqlmodel import Field, SQLModel, select

from contracts.events.referral import ReferralSent
from contracts.topics import dlq_topic
from services.kit.clock import ManualClock
from services.kit.consumer import EventConsumer, HandlerContext, Outcome, RawRecord, Subscription
from services.kit.db import Database
from services.kit.inbox import InboxRecord
from services.kit.messaging import EventPublisher, ensure_topics, make_broker
from services.kit.outbox import OutboxRecord
from services.kit.settings import ServiceSettings
from tests.harness.kafka import read_topic
from tests.harness.stack import wait_until

SENT = "fr.relais.referral.sent.v1"
BOOM = "ref_boom"


class ConsumerDlqTally(SQLModel, table=True):
    """A test-only effect table: how many times each referral was handled."""

    __tablename__ = "test_consumer_dlq_tally"

    referral_id: str = Field(primary_key=True, max_length=64)
    count: int = 0


class RecordingConsumer(EventConsumer):
    """Keeps the outcome of every record it processed, so tests wait on it."""

    outcomes: dict[int, Outcome]

    async def process(self, record: RawRecord) -> Outcome:
        outcome = await super().process(record)
        self.outcomes[record.offset] = outcome
        return outcome


@dataclass
class Running:
    topic: str
    consumer: RecordingConsumer
    db: Database
    attempts: dict[str, int]
    broker: KafkaBroker

    async def committed(self) -> int | None:
        """The group's committed offset on partition 0 (the next record it will read)."""
        [subscriber] = self.broker.subscribers
        kafka_consumer = subscriber.consumer  # type: ignore[attr-defined]
        offset: int | None = await kafka_consumer.committed(TopicPartition(self.topic, 0))
        return offset


async def tally(event: ReferralSent, ctx: HandlerContext) -> None:
    row = await ctx.session.get(ConsumerDlqTally, event.referral_id)
    row = row or ConsumerDlqTally(referral_id=event.referral_id)
    row.count += 1
    ctx.session.add(row)


@pytest.fixture
async def running(
    kafka_bootstrap: str, unique_name: Callable[..., str], tmp_path: Path
) -> AsyncIterator[Running]:
    """A FastStream broker running one EventConsumer on a fresh one-partition topic."""
    topic = unique_name("dlq-src")
    await ensure_topics(kafka_bootstrap, [topic, dlq_topic(topic)], partitions=1)
    settings = ServiceSettings(
        service_name="dlqtest",
        kafka_bootstrap_servers=kafka_bootstrap,
        consumer_group_prefix=unique_name("dlq"),
        consumer_retry_backoff_ms=10,
        var_dir=tmp_path,
    )
    db = Database(
        f"sqlite+aiosqlite:///{tmp_path}/dlq.db", [InboxRecord, OutboxRecord, ConsumerDlqTally]
    )
    await db.create_all()
    attempts: dict[str, int] = {}

    async def handle(event: ReferralSent, ctx: HandlerContext) -> None:
        attempts[event.referral_id] = attempts.get(event.referral_id, 0) + 1
        await tally(event, ctx)
        if event.referral_id == BOOM:
            raise RuntimeError("receiver tool rejected the referral")

    publisher = EventPublisher(kafka_bootstrap, "relais-dlqtest")
    await publisher.start()
    broker: KafkaBroker = make_broker(settings)
    consumer = RecordingConsumer(
        Subscription(topic, "tally", {ReferralSent: handle}),
        db=db,
        publisher=publisher,
        clock=ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
        settings=settings,
    )
    consumer.outcomes = {}
    consumer.attach(broker)
    try:
        await broker.start()

        async def assigned() -> bool:
            return all(
                getattr(s, "consumer", None) is not None and s.consumer.assignment()  # type: ignore[attr-defined]
                for s in broker.subscribers
            )

        await wait_until(assigned, timeout=30, what="partitions assigned")
        yield Running(topic, consumer, db, attempts, broker)
    finally:
        await broker.stop()
        await publisher.stop()
        await db.dispose()


def ce_headers(ce_type: str, ce_id: str | None = None) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", (ce_id or str(uuid.uuid4())).encode()),
        ("ce_source", b"/tests/dlq"),
        ("ce_type", ce_type.encode()),
        ("ce_time", b"2026-01-05T09:00:00Z"),
        ("content-type", b"application/json"),
        ("ce_subject", b"prj_a"),
        ("x-trace", b"keep-me"),  # a header of someone else's: preserved in the DLQ
    ]


def sent_data(referral_id: str | None) -> bytes:
    data: dict[str, Any] = {
        "project_id": "prj_a",
        "sender_member_id": "mbr_amiens",
        "receiver_member_id": "mbr_lille",
    }
    if referral_id is not None:
        data["referral_id"] = referral_id
    return json.dumps(data).encode()


@dataclass
class Produced:
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, list[tuple[str, bytes]]]]
) -> list[Produced]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        produced = []
        for value, headers in records:
            meta = await producer.send_and_wait(topic, value=value, key=b"prj_a", headers=headers)
            produced.append(Produced(meta.offset, b"prj_a", value, headers))
        return produced
    finally:
        await producer.stop()


async def outcomes_for(running: Running, produced: list[Produced]) -> dict[int, Outcome]:
    async def all_processed() -> bool:
        return all(p.offset in running.consumer.outcomes for p in produced)

    await wait_until(all_processed, timeout=30, what="every record processed")
    return {p.offset: running.consumer.outcomes[p.offset] for p in produced}


async def tallies(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {r.referral_id: r.count for r in (await session.exec(select(ConsumerDlqTally)))}


async def test_poison_records_go_to_the_dlq_and_the_consumer_goes_on(
    running: Running, kafka_bootstrap: str
) -> None:
    topic, max_attempts = running.topic, running.consumer.settings.consumer_max_attempts
    produced = await produce(
        kafka_bootstrap,
        topic,
        [
            (b"{this is not json", ce_headers(SENT)),  # (a)
            (b'{"anything": 1}', ce_headers("fr.relais.nothing_like_it.v1")),  # (b)
            (sent_data(None), ce_headers(SENT)),  # (c) referral_id missing
            (sent_data(BOOM), ce_headers(SENT)),  # (d) the handler always raises
            (sent_data("ref_good"), ce_headers(SENT)),  # (e)
        ],
    )
    bad, good = produced[:4], produced[4]

    outcomes = await outcomes_for(running, produced)
    assert list(outcomes.values()) == ["dead_lettered"] * 4 + ["handled"]
    assert await tallies(running.db) == {"ref_good": 1}  # the failing handler's writes rolled back
    assert running.attempts == {BOOM: max_attempts, "ref_good": 1}

    letters = await read_topic(kafka_bootstrap, dlq_topic(topic), at_least=4)
    assert len(letters) == 4
    expected = [
        ("invalid_envelope", "value is not valid JSON", 1),
        ("unknown_type", "fr.relais.nothing_like_it.v1", 1),
        ("invalid_data", "referral_id: Field required", 1),
        ("handler_failed", "RuntimeError: receiver tool rejected the referral", max_attempts),
    ]
    for letter, original, (reason, error, attempts) in zip(letters, bad, expected, strict=True):
        h = {k: v.decode() for k, v in letter.headers}
        assert h["x-dlq-reason"] == reason
        assert error in h["x-dlq-error"]
        assert h["x-dlq-topic"] == topic
        assert h["x-dlq-partition"] == "0"
        assert h["x-dlq-offset"] == str(original.offset)
        assert h["x-dlq-attempts"] == str(attempts)
        assert h["x-dlq-consumer"] == running.consumer.group_id
        assert h["x-dlq-time"] == "2026-01-05T09:00:00+00:00"
        # The original record, untouched: value, key and headers first, in order.
        assert letter.value == original.value
        assert letter.key == original.key
        assert list(letter.headers)[: len(original.headers)] == original.headers
    assert good.offset not in {int(dict(r.headers)["x-dlq-offset"]) for r in letters}

    async def committed_past_the_good_record() -> bool:
        return await running.committed() == good.offset + 1

    await wait_until(committed_past_the_good_record, timeout=10, what="offset committed")


async def test_the_same_record_delivered_twice_has_one_effect(
    running: Running, kafka_bootstrap: str
) -> None:
    headers = ce_headers(SENT, ce_id=str(uuid.uuid4()))
    produced = await produce(
        kafka_bootstrap,
        running.topic,
        [(sent_data("ref_twice"), headers), (sent_data("ref_twice"), headers)],
    )
    outcomes = await outcomes_for(running, produced)
    assert list(outcomes.values()) == ["handled", "duplicate"]
    assert await tallies(running.db) == {"ref_twice": 1}
    async with running.db.session() as session:
        inbox = (await session.exec(select(InboxRecord))).all()
    assert [r.event_id for r in inbox] == [dict(headers)["ce_id"].decode()]
    assert running.attempts == {"ref_twice": 1}
