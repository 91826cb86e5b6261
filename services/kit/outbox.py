"""Transactional outbox and its relay.

A handler adds events to the outbox in the same transaction as its state change. After the
commit the relay is woken, publishes unsent rows in id order (so in order per key), marks
them sent, and keeps published rows for `retention` so `relais replay --since` can refill a
broker that lost its data. While the broker is down it retries with capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, delete, text, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from services.kit.clock import Clock
from services.kit.db import (
    Database,
    UtcDateTime,
    mark_dirty,
    stage_insert,
    table_of,
    threadsafe_setter,
)
from services.kit.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED

log = logging.getLogger("relais.outbox")
OUTBOX_WAKE = "outbox"

Enqueue = Callable[[CloudEvent, str], Awaitable["asyncio.Future[Any]"]]
"""Hands one CloudEvent to the producer in call order; the future resolves on broker ack."""


class OutboxRecord(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=64)
    topic: str = Field(max_length=200)
    key: str | None = Field(default=None, max_length=200)
    type: str = Field(max_length=200)
    source: str = Field(max_length=200)
    subject: str | None = Field(default=None, max_length=200)
    time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True, index=True)
    )

    def to_cloudevent(self) -> CloudEvent:
        return CloudEvent(
            id=self.event_id,
            source=self.source,
            type=self.type,
            time=self.time,
            subject=self.subject,
            data=self.data,
            key=self.key,
        )


OUTBOX_TABLE = table_of(OutboxRecord)


def add_event(
    session: AsyncSession, event: Event, *, source: str, clock: Clock, topic: str | None = None
) -> CloudEvent:
    """Stage `event` in the outbox of the current transaction and return its envelope."""
    envelope = CloudEvent.wrap(event, source=source, time=clock.now())
    stage_insert(
        session,
        OUTBOX_TABLE,
        {
            "event_id": envelope.id,
            "topic": topic or event.topic,
            "key": envelope.key,
            "type": envelope.type,
            "source": envelope.source,
            "subject": envelope.subject,
            "time": envelope.time,
            "data": envelope.data,
            "published_at": None,
        },
    )
    mark_dirty(session, OUTBOX_WAKE)
    return envelope


class Emitter:
    """`emit(session, event)`: stage an event with this service's source and clock."""

    def __init__(self, source: str, clock: Clock) -> None:
        self.source, self.clock = source, clock

    def __call__(self, session: AsyncSession, event: Event) -> CloudEvent:
        return add_event(session, event, source=self.source, clock=self.clock)


class OutboxRelay:
    """Publishes committed outbox rows. One task per service process."""

    def __init__(
        self,
        db: Database,
        enqueue: Enqueue,
        clock: Clock,
        *,
        batch_size: int = 500,
        retention: timedelta = timedelta(days=7),
        max_backoff: float = 5.0,
        safety_poll: float = 2.0,
    ) -> None:
        self.db, self.enqueue, self.clock = db, enqueue, clock
        self.batch_size, self.retention = batch_size, retention
        self.max_backoff, self.safety_poll = max_backoff, safety_poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.healthy = True
        self.published_total = 0

    def start(self) -> None:
        self.db.on_commit(OUTBOX_WAKE, threadsafe_setter(asyncio.get_running_loop(), self._wake))
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.1
        last_purge = self.clock.now() - timedelta(hours=1)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.safety_poll)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await self.publish_pending() == self.batch_size:
                    pass
                self.healthy, backoff = True, 0.1
                if self.clock.now() - last_purge > timedelta(minutes=10):
                    await self.purge()
                    last_purge = self.clock.now()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker down or database busy: retry, never give up
                if self.healthy:
                    log.warning("outbox relay cannot publish, retrying: %s", exc)
                self.healthy = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows in order; return how many were published."""
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                # Several instances: only one relay publishes at a time, keeping key order.
                got = await session.exec(text("SELECT pg_try_advisory_xact_lock(7242001)"))  # type: ignore[call-overload]
                if not got.scalar():
                    return 0
            rows = (
                await session.exec(
                    select(OutboxRecord)
                    .where(col(OutboxRecord.published_at).is_(None))
                    .order_by(col(OutboxRecord.id))
                    .limit(self.batch_size)
                )
            ).all()
            OUTBOX_LAG.labels(self.db_label).set(len(rows))
            if not rows:
                return 0
            # Enqueue in id order (the producer keeps that order per partition), then await acks.
            sends = [await self.enqueue(r.to_cloudevent(), r.topic) for r in rows]
            done_ids: list[int] = []
            error: BaseException | None = None
            for row, send in zip(rows, sends, strict=True):
                try:
                    await send
                except Exception as exc:
                    error = exc
                    break
                assert row.id is not None
                done_ids.append(row.id)
            for pending in sends[len(done_ids) :]:
                pending.cancel()
            if done_ids:
                await session.exec(
                    update(OutboxRecord)  # type: ignore[call-overload]
                    .where(col(OutboxRecord.id).in_(done_ids))
                    .values(published_at=self.clock.now())
                )
            self.published_total += len(done_ids)
            OUTBOX_PUBLISHED.labels(self.db_label).inc(len(done_ids))
        if error is not None:
            raise error
        return len(done_ids)

    @property
    def db_label(self) -> str:
        return self.db.url.split(":", 1)[0]

    async def purge(self) -> int:
        cutoff = self.clock.now() - self.retention
        async with self.db.transaction() as session:
            result = await session.exec(
                delete(OutboxRecord).where(  # type: ignore[call-overload]
                    col(OutboxRecord.published_at).is_not(None),
                    col(OutboxRecord.published_at) < cutoff,
                )
            )
            return int(result.rowcount or 0)


async def replay_since(db: Database, enqueue: Enqueue, since: datetime) -> int:
    """Republish every kept outbox row created at or after `since`, in order."""
    count = 0
    async with db.session() as session:
        rows = (
            await session.exec(
                select(OutboxRecord)
                .where(col(OutboxRecord.time) >= since)
                .order_by(col(OutboxRecord.id))
            )
        ).all()
    acks = [await enqueue(row.to_cloudevent(), row.topic) for row in rows]
    for ack in acks:
        await ack
        count += 1
    return count
