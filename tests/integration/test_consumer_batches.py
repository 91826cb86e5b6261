"""The kit's EventConsumer takes records in batches: one transaction per batch, and when a batch
fails, each of its records goes through the one-record path (retries, then the DLQ), in order.

Real broker, FastStream, and SQLite / PostgreSQL. The records are produced before the consumer
starts, so its first polls return many records at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
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
FLAKY, BROKEN = "ref_10", "ref_30"
KEYS = ["prj_a", "prj_b", "prj_c"]
Produced = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


class ConsumerBatchLog(SQLModel, table=True):
    """A test-only effect table: per key, the referrals handled, in the order handled."""

    __tablename__ = "test_consumer_batch_log"

    key: str = Field(primary_key=True, max_length=64)
    handled: str = ""


class BatchRecordingConsumer(EventConsumer):
    """Keeps each batch's size and each record's outcome (it does not override `process`)."""

    batch_sizes: list[int]
    outcomes: dict[tuple[int, int], Outcome]

    async def process_batch(self, records: Sequence[RawRecord]) -> list[Outcome]:
        outcomes = await super().process_batch(records)
        self.batch_sizes.append(len(records))
        for record, outcome in zip(records, outcomes, strict=True):
            self.outcomes[(record.partition, record.offset)] = outcome
        return outcomes


@dataclass
class Setup:
    topic: str
    db: Database
    settings: ServiceSettings
    attempts: dict[str, int]
    sessions: list[str]  # a token of the session each handler call ran in, in order
    publisher: EventPublisher
    broker: KafkaBroker
    consumer: BatchRecordingConsumer


@pytest.fixture
async def setup(
    kafka_bootstrap: str, unique_name: Callable[..., str], database_url: str, tmp_path: Path
) -> AsyncIterator[Setup]:
    topic = unique_name("batch-src")
    await ensure_topics(kafka_bootstrap, [topic, dlq_topic(topic)], partitions=3)
    settings = ServiceSettings(
        service_name="batchtest",
        kafka_bootstrap_servers=kafka_bootstrap,
        consumer_group_prefix=unique_name("batch"),
        consumer_retry_backoff_ms=10,
        consumer_batch_max_records=100,
        var_dir=tmp_path,
    )
    db = Database(database_url, [InboxRecord, OutboxRecord, ConsumerBatchLog])
    await db.create_all()
    attempts: dict[str, int] = {}
    sessions: list[str] = []

    async def handle(event: ReferralSent, ctx: HandlerContext) -> None:
        attempts[event.referral_id] = attempts.get(event.referral_id, 0) + 1
        sessions.append(ctx.session.info.setdefault("test_token", uuid.uuid4().hex))
        row = await ctx.session.get(ConsumerBatchLog, event.project_id)
        row = row or ConsumerBatchLog(key=event.project_id)
        row.handled += f"{event.referral_id},"
        ctx.session.add(row)
        await ctx.session.flush()  # the write reaches the database before the failure
        if event.referral_id == FLAKY and attempts[FLAKY] == 1:
            raise RuntimeError("flaky once")
        if event.referral_id == BROKEN:
            raise RuntimeError("always broken")

    publisher = EventPublisher(kafka_bootstrap, "relais-batchtest")
    await publisher.start()
    broker = make_broker(settings)
    consumer = BatchRecordingConsumer(
        Subscription(topic, "log", {ReferralSent: handle}),
        db=db,
        publisher=publisher,
        clock=ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
        settings=settings,
    )
    consumer.batch_sizes, consumer.outcomes = [], {}
    consumer.attach(broker)
    try:
        yield Setup(topic, db, settings, attempts, sessions, publisher, broker, consumer)
    finally:
        await broker.stop()
        await publisher.stop()
        await db.dispose()


def record(referral_id: str, key: str, ce_id: str | None = None) -> Produced:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", (ce_id or str(uuid.uuid4())).encode()),
        ("ce_source", b"/tests/batch"),
        ("ce_type", SENT.encode()),
        ("ce_time", b"2026-01-05T09:00:00Z"),
        ("content-type", b"application/json"),
        ("ce_subject", key.encode()),
    ]
    data = {
        "referral_id": referral_id,
        "project_id": key,
        "sender_member_id": "mbr_amiens",
        "receiver_member_id": "mbr_lille",
    }
    return key.encode(), json.dumps(data).encode(), headers


async def produce_then_consume(setup: Setup, bootstrap: str, records: list[Produced]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(setup.topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()
    await setup.broker.start()

    async def all_processed() -> bool:
        return len(setup.consumer.outcomes) == len(records)

    await wait_until(all_processed, timeout=60, what="every record processed")


async def logs(db: Database) -> dict[str, list[str]]:
    async with db.session() as session:
        rows = (await session.exec(select(ConsumerBatchLog))).all()
    return {r.key: r.handled.rstrip(",").split(",") for r in rows}


async def test_a_failing_record_does_not_cost_the_batch_its_effects_or_order(
    setup: Setup, kafka_bootstrap: str
) -> None:
    referrals = [f"ref_{i:02d}" for i in range(50)]
    key_of = {ref: KEYS[i % 3] for i, ref in enumerate(referrals)}
    await produce_then_consume(
        setup, kafka_bootstrap, [record(ref, key_of[ref]) for ref in referrals]
    )

    assert max(setup.consumer.batch_sizes) > 1  # records did come in batches
    outcomes = list(setup.consumer.outcomes.values())
    assert outcomes.count("handled") == 49 and outcomes.count("dead_lettered") == 1
    # Each effect exactly once (the failed batch's writes rolled back), in order per key.
    expected = {
        key: [ref for ref in referrals if key_of[ref] == key and ref != BROKEN] for key in KEYS
    }
    assert await logs(setup.db) == expected
    max_attempts = setup.settings.consumer_max_attempts
    assert setup.attempts[FLAKY] == 2  # failed in its batch, then succeeded on its own
    assert setup.attempts[BROKEN] == max_attempts  # the batch try counts as the first attempt
    async with setup.db.session() as session:
        inbox = (await session.exec(select(InboxRecord))).all()
    assert len(inbox) == 49

    [letter] = await read_topic(kafka_bootstrap, dlq_topic(setup.topic), at_least=1)
    h = {k: v.decode() for k, v in letter.headers}
    assert h["x-dlq-reason"] == "handler_failed"
    assert "RuntimeError: always broken" in h["x-dlq-error"]
    assert h["x-dlq-attempts"] == str(max_attempts)
    assert json.loads(letter.value)["referral_id"] == BROKEN


async def test_the_same_event_twice_in_one_batch_is_handled_once(
    setup: Setup, kafka_bootstrap: str
) -> None:
    twice = str(uuid.uuid4())
    records = [
        record("ref_00", "prj_a"),
        record("ref_01", "prj_a", ce_id=twice),
        record("ref_01", "prj_a", ce_id=twice),
        record("ref_02", "prj_a"),
    ]
    await produce_then_consume(setup, kafka_bootstrap, records)

    assert setup.consumer.batch_sizes[0] > 1
    by_offset = [outcome for _, outcome in sorted(setup.consumer.outcomes.items())]
    assert by_offset == ["handled", "handled", "duplicate", "handled"]
    assert await logs(setup.db) == {"prj_a": ["ref_00", "ref_01", "ref_02"]}
    assert setup.attempts == {"ref_00": 1, "ref_01": 1, "ref_02": 1}
    async with setup.db.session() as session:
        inbox = (await session.exec(select(InboxRecord.event_id))).all()
    assert inbox.count(twice) == 1 and len(inbox) == 3


async def test_a_long_batch_commits_in_time_slices_without_losing_order_or_effects(
    setup: Setup, kafka_bootstrap: str
) -> None:
    """A batch whose handling outlasts `consumer_batch_slice_ms` commits in several
    transactions (the event loop and SQLite's write lock are not held for the whole batch);
    a failure in a later slice keeps the earlier slices' commits and replays only the rest."""
    setup.settings.consumer_batch_slice_ms = 0.001  # every record past the first overruns it
    referrals = [f"ref_{i:02d}" for i in range(40)]
    key_of = {ref: KEYS[i % 3] for i, ref in enumerate(referrals)}
    await produce_then_consume(
        setup, kafka_bootstrap, [record(ref, key_of[ref]) for ref in referrals]
    )

    assert max(setup.consumer.batch_sizes) > 1
    # One transaction (session) per record here, though records came several per batch.
    assert len(set(setup.sessions)) == len(setup.sessions)
    expected = {
        key: [ref for ref in referrals if key_of[ref] == key and ref != BROKEN] for key in KEYS
    }
    assert await logs(setup.db) == expected
    assert setup.attempts[FLAKY] == 2
    assert all(n == 1 for ref, n in setup.attempts.items() if ref not in (FLAKY, BROKEN))
    outcomes = list(setup.consumer.outcomes.values())
    assert outcomes.count("handled") == 39 and outcomes.count("dead_lettered") == 1
