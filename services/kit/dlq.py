"""Dead letters: list what consumers parked in `<topic>.dlq` and replay it to the source topic.

Reading is group-less (assign + seek): listing must not move any consumer group's offsets,
and it stops at the end offsets seen when it started, so it always terminates. Replay sends
the original value, key and headers (minus `x-dlq-*`) back to the topic named in
`x-dlq-topic`; consumers deduplicate by CloudEvents id, so replaying twice is harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from contracts.topics import DLQ_SUFFIX, TOPICS, dlq_topic

DLQ_HEADER_PREFIX = "x-dlq-"
EXCERPT_CHARS = 300
OffsetRef = int | str
"""`N` (offset N in whichever partition holds it, must be unambiguous) or `"P:N"`."""


class DeadLetterRecord(BaseModel):
    topic: str
    partition: int
    offset: int
    timestamp: datetime | None = None
    key: str | None = None
    reason: str | None = None
    error: str | None = None
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    consumer: str | None = None
    attempts: int | None = None
    dead_lettered_at: str | None = None
    ce_type: str | None = None
    ce_id: str | None = None
    value_excerpt: str = ""
    value_size: int = 0


def default_dlq_topics() -> list[str]:
    return [dlq_topic(t.name) for t in TOPICS]


def as_dlq_topic(name: str) -> str:
    """Accept `referral.events` or `referral.events.dlq`."""
    return name if name.endswith(DLQ_SUFFIX) else dlq_topic(name)


def parse_offset_ref(ref: OffsetRef) -> tuple[int | None, int]:
    """`12` -> (None, 12); `"3:12"` -> (3, 12). Raises ValueError on anything else."""
    if isinstance(ref, int):
        return None, ref
    text = ref.strip()
    if ":" in text:
        partition, offset = text.split(":", 1)
        return int(partition), int(offset)
    return None, int(text)


async def read_to_end(
    bootstrap: str, topics: Sequence[str], timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topics` from the beginning up to the end offsets at call time."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
        fetch_max_wait_ms=100,
    )
    try:
        await consumer.start()
        existing = await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            if topic in existing
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        start = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if end[tp] > start[tp]}
        for tp in partitions:
            consumer.seek(tp, start[tp])
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"reading {', '.join(topics)} did not reach the end in {timeout}s"
                )
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < end[tp])
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    finally:
        await consumer.stop()


def _headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", errors="replace") for k, v in record.headers or ()}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def to_dead_letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetterRecord:
    h = _headers(record)
    value = record.value or b""
    return DeadLetterRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC)
        if record.timestamp
        else None,
        key=record.key.decode("utf-8", errors="replace") if record.key is not None else None,
        reason=h.get("x-dlq-reason"),
        error=h.get("x-dlq-error"),
        original_topic=h.get("x-dlq-topic"),
        original_partition=_int(h.get("x-dlq-partition")),
        original_offset=_int(h.get("x-dlq-offset")),
        consumer=h.get("x-dlq-consumer"),
        attempts=_int(h.get("x-dlq-attempts")),
        dead_lettered_at=h.get("x-dlq-time"),
        ce_type=h.get("ce_type"),
        ce_id=h.get("ce_id"),
        value_excerpt=value[:EXCERPT_CHARS].decode("utf-8", errors="replace"),
        value_size=len(value),
    )


async def list_dead_letters(
    bootstrap: str, dlq_topics: Iterable[str] | None = None
) -> list[DeadLetterRecord]:
    """Dead letters of the given DLQ topics (default: every topic's DLQ); missing ones are empty."""
    topics = [as_dlq_topic(t) for t in (dlq_topics or default_dlq_topics())]
    return [to_dead_letter(r) for r in await read_to_end(bootstrap, topics)]


def _select(
    records: list[ConsumerRecord[bytes, bytes]], offsets: Iterable[OffsetRef]
) -> list[ConsumerRecord[bytes, bytes]]:
    chosen: dict[tuple[int, int], ConsumerRecord[bytes, bytes]] = {}
    for ref in offsets:
        partition, offset = parse_offset_ref(ref)
        hits = [r for r in records if r.offset == offset and partition in (None, r.partition)]
        if not hits:
            raise LookupError(f"no dead letter at {ref}")
        if len(hits) > 1:
            where = ", ".join(f"{r.partition}:{r.offset}" for r in hits)
            raise ValueError(f"offset {offset} exists in several partitions ({where}): use P:N")
        chosen[(hits[0].partition, hits[0].offset)] = hits[0]
    return [chosen[k] for k in sorted(chosen)]


async def replay_dead_letters(
    bootstrap: str, dlq_topic: str, offsets: Iterable[OffsetRef] | None = None
) -> int:
    """Republish dead letters (all when `offsets` is None) to their original topic."""
    if not dlq_topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{dlq_topic!r} is not a dead-letter topic (*.dlq)")
    records = await read_to_end(bootstrap, [dlq_topic])
    if offsets is not None:
        records = _select(records, offsets)
    if not records:
        return 0
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=1
    )
    try:
        await producer.start()
        acks: list[asyncio.Future[Any]] = []
        for record in records:
            h = _headers(record)
            target = h.get("x-dlq-topic") or dlq_topic.removesuffix(DLQ_SUFFIX)
            headers = [
                (k, v or b"")
                for k, v in record.headers or ()
                if not k.startswith(DLQ_HEADER_PREFIX)
            ]
            acks.append(
                await producer.send(target, value=record.value, key=record.key, headers=headers)
            )
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return len(records)


# --- HTTP ------------------------------------------------------------------------------------


class ReplayRequest(BaseModel):
    topic: str
    offsets: list[OffsetRef] | None = None


class ReplayResult(BaseModel):
    topic: str
    replayed: int


def dlq_router(bootstrap_getter: Callable[[], str]) -> APIRouter:
    """`GET /v1/dlq` and `POST /v1/dlq/replay`, unauthenticated: the service adds its guard."""
    router = APIRouter(tags=["dlq"])

    @router.get("/v1/dlq", response_model=list[DeadLetterRecord])
    async def list_dlq(
        topic: Annotated[list[str] | None, Query(description="source or .dlq topic")] = None,
    ) -> list[DeadLetterRecord]:
        try:
            return await list_dead_letters(bootstrap_getter(), topic or None)
        except Exception as exc:
            raise HTTPException(503, f"Kafka injoignable : {exc}") from exc

    @router.post("/v1/dlq/replay", response_model=ReplayResult)
    async def replay_dlq(body: ReplayRequest) -> ReplayResult:
        topic = as_dlq_topic(body.topic)
        try:
            count = await replay_dead_letters(bootstrap_getter(), topic, body.offsets)
        except LookupError as exc:
            raise HTTPException(404, f"Lettre morte introuvable : {exc}") from exc
        except ValueError as exc:
            raise HTTPException(400, f"Requête invalide : {exc}") from exc
        except Exception as exc:
            raise HTTPException(503, f"Kafka injoignable : {exc}") from exc
        return ReplayResult(topic=topic, replayed=count)

    return router
