"""`relais bench kit`: what the service kit adds on top of raw Kafka.

Throughput: the relay publishing committed outbox rows, vs a raw aiokafka producer sending the
same number of records (the rate of staging events in transactions is shown too).
Latency: commit -> relay -> broker -> consumer (inbox + effect committed), vs the raw
produce -> consume round trip, at a steady rate.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlmodel import col, func, select

from contracts.events.referral import ReferralSent
from services.bench.common import Report, percentile
from services.kit.clock import SystemClock
from services.kit.consumer import EventConsumer, HandlerContext, Subscription
from services.kit.db import Database
from services.kit.messaging import EventPublisher, ensure_topics, make_broker
from services.kit.outbox import OutboxRecord, OutboxRelay, add_event
from services.kit.runtime import KIT_MODELS
from services.kit.settings import ServiceSettings

SOURCE = "/relais/bench"


def _event(i: int) -> ReferralSent:
    return ReferralSent(
        project_id=f"prj_{i % 64}",
        referral_id=f"ref_{i}",
        sender_member_id="mbr_a",
        receiver_member_id="mbr_b",
        stage="creation",
        commune="80021",
    )


async def raw_produce_rate(bootstrap: str, topic: str, n: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=1)
    await producer.start()
    try:
        value = _event(0).model_dump_json().encode()
        started = time.perf_counter()
        acks = [
            await producer.send(topic, value=value, key=f"prj_{i % 64}".encode()) for i in range(n)
        ]
        await asyncio.gather(*acks)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def outbox_rate(bootstrap: str, topic: str, n: int, db: Database) -> tuple[float, float]:
    """(write rate, relay rate): events staged in business transactions, then relayed."""
    clock = SystemClock()
    started = time.perf_counter()
    for first in range(0, n, 100):  # 100 events per business transaction
        async with db.transaction() as session:
            for i in range(first, min(first + 100, n)):
                add_event(session, _event(i), source=SOURCE, clock=clock, topic=topic)
    write_rate = n / (time.perf_counter() - started)
    publisher = EventPublisher(bootstrap, "bench-relay")
    await publisher.start()
    relay = OutboxRelay(db, publisher.enqueue, clock, batch_size=500)
    try:
        started = time.perf_counter()
        while await relay.publish_pending():
            pass
        return write_rate, relay.published_total / (time.perf_counter() - started)
    finally:
        await publisher.stop()


async def raw_round_trip(bootstrap: str, topic: str, n: int, rate: float) -> list[float]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=10,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        await consumer.seek_to_end()
        for i in range(n):
            sent = time.perf_counter()
            await producer.send_and_wait(topic, value=str(i).encode(), key=b"k")
            while True:
                record = await consumer.getone()
                if record.value == str(i).encode():
                    break
            latencies.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
        return latencies
    finally:
        await producer.stop()
        await consumer.stop()


async def relais_round_trip(
    bootstrap: str, topic: str, n: int, rate: float, db: Database, var: Path
) -> list[float]:
    """Commit with an outbox row -> relay -> broker -> EventConsumer (inbox + effect)."""
    clock = SystemClock()
    settings = ServiceSettings(
        service_name="bench",
        kafka_bootstrap_servers=bootstrap,
        var_dir=var,
        consumer_group_prefix=f"bench-{uuid.uuid4().hex[:8]}",
    )
    handled: dict[str, float] = {}

    async def on_sent(evt: ReferralSent, _ctx: HandlerContext) -> None:
        handled[evt.referral_id] = time.perf_counter()

    publisher = EventPublisher(bootstrap, "bench-e2e")
    await publisher.start()
    broker = make_broker(settings)
    consumer_db = Database(f"sqlite+aiosqlite:///{var / 'consumer.db'}", KIT_MODELS)
    await consumer_db.create_all()
    consumer = EventConsumer(
        Subscription(topic, "latency", {ReferralSent: on_sent}),
        db=consumer_db,
        publisher=publisher,
        clock=clock,
        settings=settings,
    )
    consumer.attach(broker)
    relay = OutboxRelay(db, publisher.enqueue, clock)
    await broker.start()
    relay.start()
    latencies: list[float] = []
    try:
        async with db.session() as session:  # skip what the throughput phase left
            base = int((await session.exec(select(func.count()).select_from(OutboxRecord))).one())
        warmup = f"ref_{base + 10_000_000}"
        async with db.transaction() as session:
            add_event(session, _event(base + 10_000_000), source=SOURCE, clock=clock, topic=topic)
        while warmup not in handled:  # the consumer group is assigned once this arrives
            await asyncio.sleep(0.01)
        for i in range(base, base + n):
            sent = time.perf_counter()
            async with db.transaction() as session:
                add_event(session, _event(i), source=SOURCE, clock=clock, topic=topic)
            while f"ref_{i}" not in handled:
                await asyncio.sleep(0.0005)
            latencies.append((handled[f"ref_{i}"] - sent) * 1000)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
        return latencies
    finally:
        await relay.stop()
        await broker.stop()
        await publisher.stop()
        await consumer_db.dispose()


async def run(bootstrap: str, *, quick: bool) -> Report:
    n_throughput = 2_000 if quick else 20_000
    n_latency = 100 if quick else 1_000
    rate = 100.0
    run_id = uuid.uuid4().hex[:8]
    topics = [f"bench.kit.{run_id}.{name}" for name in ("raw", "outbox", "rtt", "e2e")]
    await ensure_topics(bootstrap, topics, partitions=6)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        var = Path(tmp)
        db = Database(f"sqlite+aiosqlite:///{var / 'producer.db'}", KIT_MODELS)
        await db.create_all()
        try:
            raw = await raw_produce_rate(bootstrap, topics[0], n_throughput)
            written, relayed = await outbox_rate(bootstrap, topics[1], n_throughput, db)
            raw_rtt = await raw_round_trip(bootstrap, topics[2], n_latency, rate)
            relais_rtt = await relais_round_trip(bootstrap, topics[3], n_latency, rate, db, var)
            async with db.session() as session:
                unsent = (
                    await session.exec(
                        select(func.count())
                        .select_from(OutboxRecord)
                        .where(col(OutboxRecord.published_at).is_(None))
                    )
                ).one()
        finally:
            await db.dispose()
    report = Report("kit", "raw aiokafka")
    report.add("relay publish rate", relayed, raw, "events/s")
    report.add("outbox write rate", written, None, "events/s")
    report.add("p50 latency", percentile(relais_rtt, 50), percentile(raw_rtt, 50), "ms", False)
    report.add("p99 latency", percentile(relais_rtt, 99), percentile(raw_rtt, 99), "ms", False)
    report.notes.append(
        f"{n_throughput} events (100 per transaction, SQLite) for throughput; {n_latency} events "
        f"at {rate:.0f}/s for latency (commit -> consumer effect committed); unsent left: {unsent}"
    )
    return report
