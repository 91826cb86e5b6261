"""Transactional outbox and idempotent inbox, on SQLite and PostgreSQL, with the real broker.

The outbox: only committed events are published, in order per key, by a relay woken at
commit; published rows are kept for the retention and can be replayed. The inbox: a record
processed twice has one effect, and a failing handler leaves neither effect nor inbox row.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlmodel import Field, SQLModel, func, select

from contracts.envelope import CloudEvent, to_kafka
from contracts.events.referral import ReferralAccepted, ReferralSent
from services.kit.clock import ManualClock
from services.kit.consumer import EventConsumer, HandlerContext, Subscription
from services.kit.db import Database
from services.kit.inbox import InboxRecord
from services.kit.messaging import EventPublisher, ensure_topics
from services.kit.outbox import OutboxRecord, OutboxRelay, add_event, replay_since
from services.kit.settings import ServiceSettings
from tests.harness.kafka import read_topic
from tests.harness.stack import wait_until

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SOURCE = "/relais/test-outbox"


class OutboxInboxTally(SQLModel, table=True):
    """A test-only effect table: how many times each referral was handled."""

    __tablename__ = "test_outbox_inbox_tally"

    referral_id: str = Field(primary_key=True, max_length=64)
    count: int = 0


MODELS: list[type[SQLModel]] = [OutboxRecord, InboxRecord, OutboxInboxTally]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, MODELS)
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[EventPublisher]:
    events = EventPublisher(kafka_bootstrap, "relais-test-outbox")
    await events.start()
    try:
        yield events
    finally:
        await events.stop()


@pytest.fixture
async def topic(kafka_bootstrap: str, unique_name: Callable[..., str]) -> str:
    name = unique_name("outbox")
    await ensure_topics(kafka_bootstrap, [name], partitions=3)
    return name


def sent(project: str, referral: str) -> ReferralSent:
    return ReferralSent(
        project_id=project,
        referral_id=referral,
        sender_member_id="mbr_amiens",
        receiver_member_id="mbr_lille",
    )


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    return dict(record.headers)[name].decode()


def ids_by_key(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        by_key[record.key.decode()].append(header(record, "ce_id"))
    return dict(by_key)


async def outbox_rows(db: Database) -> list[OutboxRecord]:
    async with db.session() as session:
        return list(
            (await session.exec(select(OutboxRecord).order_by(OutboxRecord.id))).all()  # type: ignore[arg-type]
        )


# --- outbox ----------------------------------------------------------------------------------


async def test_relay_publishes_committed_events_in_order_per_key_woken_at_commit(
    db: Database, publisher: EventPublisher, topic: str, kafka_bootstrap: str
) -> None:
    clock = ManualClock(START)
    # A long safety poll: publishing within the bound below can only come from the wake-up.
    relay = OutboxRelay(db, publisher.enqueue, clock, safety_poll=30)
    relay.start()
    try:
        with pytest.raises(RuntimeError, match="validation failed"):
            async with db.transaction() as session:
                doomed = add_event(
                    session, sent("prj_a", "ref_doomed"), source=SOURCE, clock=clock, topic=topic
                )
                raise RuntimeError("validation failed")

        expected: dict[str, list[str]] = defaultdict(list)
        projects = ["prj_a", "prj_b", "prj_c"]
        started = time.monotonic()
        for round_ in range(4):  # interleaved keys, one transaction per round
            async with db.transaction() as session:
                for project in projects:
                    envelope = add_event(
                        session,
                        sent(project, f"ref_{project}_{round_}"),
                        source=SOURCE,
                        clock=clock,
                        topic=topic,
                    )
                    expected[project].append(envelope.id)
        committed = time.monotonic()

        async def all_published() -> bool:
            rows = await outbox_rows(db)
            return len(rows) == 12 and all(r.published_at is not None for r in rows)

        await wait_until(all_published, timeout=10, interval=0.02, what="outbox published")
        elapsed = time.monotonic() - committed
        assert elapsed < 1.5, f"relay took {elapsed:.2f}s after the last commit"
        assert committed - started < 5

        records = await read_topic(kafka_bootstrap, topic, at_least=12)
        assert len(records) == 12
        assert ids_by_key(records) == dict(expected)
        assert doomed.id not in {header(r, "ce_id") for r in records}
        assert doomed.id not in {r.event_id for r in await outbox_rows(db)}
        first = records[0]
        assert header(first, "ce_type") == "fr.relais.referral.sent.v1"
        assert header(first, "ce_source") == SOURCE
        assert header(first, "ce_subject") == first.key.decode()  # type: ignore[union-attr]
        rows = await outbox_rows(db)
        assert {_utc(r.published_at) for r in rows} == {START}  # type: ignore[arg-type]
        assert relay.healthy and relay.published_total == 12
    finally:
        await relay.stop()


async def test_purge_removes_only_published_rows_older_than_retention(db: Database) -> None:
    clock = ManualClock(START)
    enqueued: list[str] = []

    async def enqueue(event: CloudEvent, _topic: str) -> asyncio.Future[Any]:
        enqueued.append(event.id)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    relay = OutboxRelay(db, enqueue, clock, retention=timedelta(days=2))

    async def stage(referral: str) -> str:
        async with db.transaction() as session:
            return add_event(session, sent("prj_a", referral), source=SOURCE, clock=clock).id

    old = await stage("ref_old")
    assert await relay.publish_pending() == 1  # published at START
    clock.advance(timedelta(days=3))
    recent = await stage("ref_recent")
    assert await relay.publish_pending() == 1  # published at START + 3 days
    waiting = await stage("ref_waiting")  # never published

    assert await relay.purge() == 1  # cutoff START + 1 day: only `old`
    assert [r.event_id for r in await outbox_rows(db)] == [recent, waiting]

    clock.advance(timedelta(days=7))
    assert await relay.purge() == 1  # cutoff START + 8 days: `recent` goes, unsent stays
    rows = await outbox_rows(db)
    assert [(r.event_id, r.published_at) for r in rows] == [(waiting, None)]
    assert enqueued == [old, recent]


async def test_replay_since_republishes_kept_rows(
    db: Database, publisher: EventPublisher, topic: str, kafka_bootstrap: str
) -> None:
    clock = ManualClock(START)
    relay = OutboxRelay(db, publisher.enqueue, clock)
    before: list[str] = []
    after: list[str] = []
    async with db.transaction() as session:
        for i in range(2):
            before.append(
                add_event(
                    session,
                    sent("prj_a", f"ref_before_{i}"),
                    source=SOURCE,
                    clock=clock,
                    topic=topic,
                ).id
            )
    since = clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        for i in range(3):
            after.append(
                add_event(
                    session,
                    sent("prj_a", f"ref_after_{i}"),
                    source=SOURCE,
                    clock=clock,
                    topic=topic,
                ).id
            )
    assert await relay.publish_pending() == 5

    assert await replay_since(db, publisher.enqueue, since) == 3
    records = await read_topic(kafka_bootstrap, topic, at_least=8)
    assert ids_by_key(records) == {"prj_a": before + after + after}
    assert await replay_since(db, publisher.enqueue, START) == 5


# --- inbox -----------------------------------------------------------------------------------


@dataclass
class Record:
    """The fields of a Kafka record the consumer reads (what aiokafka's ConsumerRecord has)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def record_of(envelope: CloudEvent, offset: int = 0) -> Record:
    key, value, headers = to_kafka(envelope)
    return Record("referral.events", 0, offset, key, value, headers)


@dataclass
class DeadLetters:
    """Stands in for the publisher: keeps what the consumer dead-letters."""

    sent: list[tuple[str, bytes | None, dict[str, bytes]]] = field(default_factory=list)

    async def publish_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, value, dict(headers)))


def consumer_with(
    db: Database, handler: Any, dead: DeadLetters, tmp_path: Path, group: str
) -> EventConsumer:
    settings = ServiceSettings(
        service_name="inbox-test",
        consumer_group_prefix=group,
        consumer_retry_backoff_ms=10,
        var_dir=tmp_path,
    )
    subscription = Subscription("referral.events", "tally", {ReferralSent: handler})
    return EventConsumer(
        subscription,
        db=db,
        publisher=dead,  # type: ignore[arg-type]
        clock=ManualClock(START),
        settings=settings,
    )


async def tally_of(db: Database, referral: str) -> int | None:
    async with db.session() as session:
        row = await session.get(OutboxInboxTally, referral)
        return None if row is None else row.count


async def count(db: Database, model: type[SQLModel]) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def increment(event: ReferralSent, ctx: HandlerContext) -> None:
    row = await ctx.session.get(OutboxInboxTally, event.referral_id)
    row = row or OutboxInboxTally(referral_id=event.referral_id)
    row.count += 1
    ctx.session.add(row)
    ctx.emit(
        ReferralAccepted(
            project_id=event.project_id,
            referral_id=event.referral_id,
            sender_member_id=event.sender_member_id,
            receiver_member_id=event.receiver_member_id,
        )
    )


async def test_inbox_applies_the_same_envelope_once(
    db: Database, tmp_path: Path, unique_name: Callable[..., str]
) -> None:
    dead = DeadLetters()
    consumer = consumer_with(db, increment, dead, tmp_path, unique_name("inbox"))
    envelope = CloudEvent.wrap(sent("prj_a", "ref_1"), source=SOURCE, time=START)

    assert await consumer.process(record_of(envelope, offset=0)) == "handled"
    assert await consumer.process(record_of(envelope, offset=1)) == "duplicate"  # redelivered
    assert await tally_of(db, "ref_1") == 1
    assert await count(db, OutboxRecord) == 1  # the handler's event, staged once

    other = CloudEvent.wrap(sent("prj_a", "ref_1"), source=SOURCE, time=START)  # new ce_id
    assert await consumer.process(record_of(other, offset=2)) == "handled"
    assert await tally_of(db, "ref_1") == 2

    async with db.session() as session:
        inbox = (await session.exec(select(InboxRecord))).all()
    assert {(r.consumer, r.event_id) for r in inbox} == {
        (consumer.group_id, envelope.id),
        (consumer.group_id, other.id),
    }
    assert dead.sent == []


async def test_a_failing_handler_rolls_back_its_effect_and_its_inbox_row(
    db: Database, tmp_path: Path, unique_name: Callable[..., str]
) -> None:
    calls = 0

    async def increment_then_fail(event: ReferralSent, ctx: HandlerContext) -> None:
        nonlocal calls
        calls += 1
        await increment(event, ctx)
        await ctx.session.flush()  # the effect reached the database before the error
        raise RuntimeError("downstream refused")

    dead = DeadLetters()
    consumer = consumer_with(db, increment_then_fail, dead, tmp_path, unique_name("inbox"))
    envelope = CloudEvent.wrap(sent("prj_a", "ref_1"), source=SOURCE, time=START)

    assert await consumer.process(record_of(envelope)) == "dead_lettered"
    assert calls == consumer.settings.consumer_max_attempts
    assert await tally_of(db, "ref_1") is None
    assert await count(db, InboxRecord) == 0
    assert await count(db, OutboxRecord) == 0
    [(dlq, value, headers)] = dead.sent
    assert dlq == "referral.events.dlq"
    assert value == record_of(envelope).value
    assert headers["x-dlq-reason"] == b"handler_failed"
    assert b"downstream refused" in headers["x-dlq-error"]

    # Not recorded as processed: a later delivery (a DLQ replay, say) is handled normally.
    async def just_increment(event: ReferralSent, ctx: HandlerContext) -> None:
        await increment(event, ctx)

    healed = consumer_with(
        db, just_increment, dead, tmp_path, consumer.settings.consumer_group_prefix
    )
    assert healed.group_id == consumer.group_id
    assert await healed.process(record_of(envelope)) == "handled"
    assert await tally_of(db, "ref_1") == 1
    assert await count(db, InboxRecord) == 1


async def test_a_handler_that_fails_once_then_succeeds_has_one_effect(
    db: Database, tmp_path: Path, unique_name: Callable[..., str]
) -> None:
    failures = iter([True, False])

    async def flaky(event: ReferralSent, ctx: HandlerContext) -> None:
        await increment(event, ctx)
        await ctx.session.flush()
        if next(failures):
            raise ConnectionError("database blip")

    dead = DeadLetters()
    consumer = consumer_with(db, flaky, dead, tmp_path, unique_name("inbox"))
    envelope = CloudEvent.wrap(sent("prj_a", "ref_1"), source=SOURCE, time=START)
    assert await consumer.process(record_of(envelope)) == "handled"
    assert await tally_of(db, "ref_1") == 1
    assert await count(db, InboxRecord) == 1
    assert await count(db, OutboxRecord) == 1
    assert dead.sent == []


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
