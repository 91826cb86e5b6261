"""One durable timer store: reminders, expiries, retries, digests and follow-ups.

A timer is a row (kind, dedupe key, due time, JSON payload). The runner fires due timers by
claiming each with a conditional UPDATE (safe with several instances), running the handler in
the same transaction that marks the timer done. Time comes from the injected clock: tests move
a ManualClock and the runner wakes; nothing sleeps for a business delay.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import Clock
from services.kit.db import (
    Database,
    UtcDateTime,
    mark_dirty,
    stage_insert,
    table_of,
    threadsafe_setter,
)
from services.kit.metrics import TIMERS_FIRED

log = logging.getLogger("relais.timers")
TIMER_WAKE = "timers"
WAKE_HORIZON = timedelta(seconds=2)


class TimerRecord(SQLModel, table=True):
    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_timer_kind_key"),)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    kind: str = Field(max_length=100, index=True)
    key: str = Field(max_length=200)
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(
        default="pending", max_length=12, index=True
    )  # pending|done|cancelled|failed
    attempts: int = 0
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    last_error: str | None = None


TIMER_TABLE = table_of(TimerRecord)


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    new_key: bool = False,
) -> None:
    """Schedule (or move) the timer `(kind, key)` in the current transaction.

    `new_key=True` says the key was just created (a new referral's id): no timer can exist,
    so the look-up is skipped (a statement less on a hot path; a mistake is a unique-key
    violation at commit, not a silent duplicate).
    """
    if due_at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (the clock gives UTC)")
    existing = (
        None
        if new_key
        else (
            await session.exec(
                select(TimerRecord).where(TimerRecord.kind == kind, TimerRecord.key == key)
            )
        ).first()
    )
    if existing is None and new_key:
        stage_insert(
            session,
            TIMER_TABLE,
            {
                "id": str(uuid.uuid4()),
                "kind": kind,
                "key": key,
                "due_at": due_at,
                "payload": payload or {},
                "state": "pending",
                "attempts": 0,
                "claimed_until": None,
                "last_error": None,
            },
        )
        if due_at <= datetime.now(UTC) + WAKE_HORIZON:
            mark_dirty(session, TIMER_WAKE)
        return
    if existing is not None:
        existing.due_at, existing.payload, existing.state = due_at, payload or {}, "pending"
        existing.attempts, existing.claimed_until = 0, None
        timer = existing
    else:
        timer = TimerRecord(kind=kind, key=key, due_at=due_at, payload=payload or {})
    session.add(timer)
    if due_at <= datetime.now(UTC) + WAKE_HORIZON:
        # Due (about) now: wake the runner at commit. Later ones are found by its poll,
        # and a test's ManualClock wakes it when moved, so no wake-up per far timer.
        mark_dirty(session, TIMER_WAKE)


async def ensure_scheduled(session: AsyncSession, *, kind: str, key: str, due_at: datetime) -> bool:
    """Schedule `(kind, key)` unless it is already pending (recurring jobs at start-up)."""
    existing = (
        await session.exec(
            select(TimerRecord).where(TimerRecord.kind == kind, TimerRecord.key == key)
        )
    ).first()
    if existing is not None and existing.state == "pending":
        return False
    await schedule(session, kind=kind, key=key, due_at=due_at)
    return True


async def cancel(session: AsyncSession, *, kind: str, key: str) -> bool:
    result = await session.exec(
        update(TimerRecord)  # type: ignore[call-overload]
        .where(
            col(TimerRecord.kind) == kind,
            col(TimerRecord.key) == key,
            col(TimerRecord.state) == "pending",
        )
        .values(state="cancelled")
    )
    return bool(result.rowcount)


@dataclass
class Fired:
    timer: TimerRecord
    session: AsyncSession
    clock: Clock


TimerHandler = Callable[[Fired], Awaitable[None]]


class TimerRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        *,
        max_attempts: int = 5,
        lease: timedelta = timedelta(minutes=5),
        poll_seconds: float = 1.0,
    ) -> None:
        self.db, self.clock, self.handlers = db, clock, handlers
        self.max_attempts, self.lease, self.poll_seconds = max_attempts, lease, poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()

    def start(self) -> None:
        wake = threadsafe_setter(asyncio.get_running_loop(), self._wake)
        self.db.on_commit(TIMER_WAKE, wake)
        self.clock.on_change(wake)
        self._task = asyncio.create_task(self._run(), name="timer-runner")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer runner pass failed")
            self._idle.set()
            try:
                # Poll too: another instance may have scheduled a timer due soon.
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            self._idle.clear()

    async def run_due(self, limit: int = 200) -> int:
        """Fire every timer due now (by the clock); return how many fired."""
        now = self.clock.now()
        async with self.db.session() as session:
            due = (
                await session.exec(
                    select(TimerRecord.id)
                    .where(
                        TimerRecord.state == "pending",
                        col(TimerRecord.due_at) <= now,
                        col(TimerRecord.kind).in_(list(self.handlers)),
                    )
                    .order_by(col(TimerRecord.due_at))
                    .limit(limit)
                )
            ).all()
        fired = 0
        for timer_id in due:
            fired += await self._fire_one(timer_id, now)
        return fired

    async def _fire_one(self, timer_id: str, now: datetime) -> int:
        async with self.db.transaction() as session:
            claimed = await session.exec(
                update(TimerRecord)  # type: ignore[call-overload]
                .where(
                    col(TimerRecord.id) == timer_id,
                    col(TimerRecord.state) == "pending",
                    (col(TimerRecord.claimed_until).is_(None))
                    | (col(TimerRecord.claimed_until) < now),
                )
                .values(claimed_until=now + self.lease)
            )
            if not claimed.rowcount:
                return 0  # another instance has it
        timer: TimerRecord | None = None
        try:
            async with self.db.transaction() as session:
                # Locked and re-checked: a cancel or reschedule may have committed since the
                # claim (reschedule clears claimed_until); then it is no longer ours to fire.
                timer = await session.get(TimerRecord, timer_id, with_for_update=True)
                if timer is None or timer.state != "pending" or timer.claimed_until is None:
                    return 0
                # Marked done after the handler, not before: a pending write would make the
                # handler's first query flush, and on SQLite take the write lock across
                # whatever network call the handler makes (an SMTP send, a look-up).
                await self.handlers[timer.kind](Fired(timer, session, self.clock))
                if timer.state == "pending" and timer.claimed_until is not None:
                    # Not rescheduled by the handler (schedule() clears the claim).
                    timer.state, timer.claimed_until = "done", None
                    session.add(timer)
            TIMERS_FIRED.labels(timer.kind, "done").inc()
            return 1
        except Exception as exc:
            await self._record_failure(timer_id, exc, now)
            return 0

    async def _record_failure(self, timer_id: str, exc: Exception, now: datetime) -> None:
        async with self.db.transaction() as session:
            timer = await session.get(TimerRecord, timer_id)
            if timer is None:
                return
            timer.attempts += 1
            timer.last_error = f"{type(exc).__name__}: {exc}"[:500]
            timer.claimed_until = None
            if timer.attempts >= self.max_attempts:
                timer.state = "failed"
                log.error(
                    "timer %s/%s failed for good: %s", timer.kind, timer.key, timer.last_error
                )
            else:
                timer.due_at = now + timedelta(seconds=2**timer.attempts)
            session.add(timer)
        TIMERS_FIRED.labels(timer.kind, "error").inc()
