"""The in-process delivery engine: sends claimed deliveries concurrently, writes results in
batches.

A delivery reaches it two ways: right after the commit that created (or replayed) it — the
fast path — and from its durable timer (retries, and the safety net after a crash). Either
way the delivery was claimed in the database first (a lease on the row), so two instances,
or the fast path and a timer, never send one delivery at the same time.

Isolation: at most `max_in_flight_per_endpoint` sends per subscription and `max_in_flight`
in all; a task waiting for a slow endpoint's slot holds no global slot, so a slow, dead or
garbage-answering receiver only delays its own deliveries. Every send has the 15 s timeout.
Results are committed by one writer, many per transaction (SQLite's commit is the cost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import Clock
from services.kit.db import Database
from services.notify.webhooks import sender

log = logging.getLogger("relais.notify.webhooks")
_AFTER_COMMIT = "notify_webhooks_after_commit"
_LISTENING = "notify_webhooks_listening"
WRITE_BATCH = 500
WRITE_LINGER = 0.02  # seconds


@dataclass(frozen=True)
class Job:
    """Everything one send needs, read (and claimed) in the transaction that scheduled it."""

    delivery_id: str
    subscription_id: str
    url: str
    secrets: tuple[str, ...]
    payload: dict[str, Any]
    claim_token: str
    claimed_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Result:
    job: Job
    outcome: sender.Outcome
    at: datetime  # business time of the attempt


ApplyResults = Callable[[AsyncSession, list[Result]], Awaitable[None]]
Reclaim = Callable[[str, str], Awaitable[bool]]


def wall_now() -> datetime:
    """Leases and signature timestamps are transport time, not business time: a test's
    ManualClock moves business time, never a lease held by a send in flight."""
    return datetime.now(UTC)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction commits (never if it rolls back)."""
    sync = session.sync_session
    sync.info.setdefault(_AFTER_COMMIT, []).append(callback)
    if sync.info.get(_LISTENING):
        return
    sync.info[_LISTENING] = True

    def committed(s: Any) -> None:
        for pending in s.info.pop(_AFTER_COMMIT, []):
            pending()

    def rolled_back(s: Any) -> None:
        s.info.pop(_AFTER_COMMIT, None)

    event.listen(sync, "after_commit", committed)
    event.listen(sync, "after_rollback", rolled_back)


class Dispatcher:
    def __init__(
        self,
        *,
        clock: Clock,
        timeout: float,
        max_in_flight: int,
        max_in_flight_per_endpoint: int,
        allow_loopback: bool,
        lease: timedelta,
    ) -> None:
        self.clock, self.timeout, self.lease = clock, timeout, lease
        self.max_in_flight, self.per_endpoint = max_in_flight, max_in_flight_per_endpoint
        self.allow_loopback = allow_loopback
        self.db: Database | None = None
        self.apply: ApplyResults | None = None
        self.reclaim: Reclaim | None = None
        self.sent = 0  # attempts made by this process (bench and tests read it)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._results: asyncio.Queue[Result | None] = asyncio.Queue()
        self._in_flight: dict[str, str] = {}  # delivery id -> latest claim token
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._global: asyncio.Semaphore | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()

    def bind(self, db: Database, apply: ApplyResults, reclaim: Reclaim) -> None:
        self.db, self.apply, self.reclaim = db, apply, reclaim

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue, self._results = asyncio.Queue(), asyncio.Queue()
        self._global = asyncio.Semaphore(self.max_in_flight)
        self._http = sender.make_session(
            timeout=self.timeout,
            max_in_flight=self.max_in_flight,
            allow_loopback=self.allow_loopback,
        )
        self._tasks = [
            asyncio.create_task(self._pump(), name="webhooks-pump"),
            asyncio.create_task(self._writer(), name="webhooks-writer"),
        ]

    async def stop(self) -> None:
        for task in [*self._sends, *self._tasks]:
            task.cancel()
        for task in [*self._sends, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks, self._sends = [], set()
        if self._http is not None:
            await self._http.close()
            self._http = None
        # Claims left behind expire; the durable timers send those deliveries again.

    # --- input ---------------------------------------------------------------------------------
    def submit(self, jobs: Iterable[Job]) -> None:
        """Hand claimed deliveries over (from any thread; a no-op before start)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        jobs = list(jobs)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(jobs)
        else:
            loop.call_soon_threadsafe(self._enqueue, jobs)

    def submit_after_commit(self, session: AsyncSession, jobs: list[Job]) -> None:
        if jobs:
            after_commit(session, lambda: self.submit(jobs))

    def _enqueue(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._queue.put_nowait(job)

    def busy(self) -> int:
        return len(self._in_flight) + self._queue.qsize()

    # --- sending -------------------------------------------------------------------------------
    async def _pump(self) -> None:
        while True:
            job = await self._queue.get()
            if job.delivery_id in self._in_flight:
                # Already on its way here: a newer claim (a timer's) replaces the old one.
                self._in_flight[job.delivery_id] = job.claim_token
                continue
            self._in_flight[job.delivery_id] = job.claim_token
            task = asyncio.create_task(self._send(job))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, job: Job) -> None:
        assert self._global is not None and self._http is not None
        handed_over = False
        try:
            gate = self._gates.get(job.subscription_id)
            if gate is None:
                gate = self._gates[job.subscription_id] = asyncio.Semaphore(self.per_endpoint)
            async with gate, self._global:
                if not await self._still_ours(job):
                    return
                at = self.clock.now()
                body = sender.body_of(job.payload)
                headers = sender.signed_headers(job.delivery_id, job.secrets, wall_now(), body)
                outcome = await sender.post(self._http, job.url, body, headers)
                self.sent += 1
            await self._results.put(Result(job, outcome, at))
            handed_over = True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook %s: send failed unexpectedly", job.delivery_id)
        finally:
            if not handed_over:
                self._in_flight.pop(job.delivery_id, None)

    async def _still_ours(self, job: Job) -> bool:
        """A job that waited long for its endpoint's slot renews its lease first (and drops
        out if another claim replaced it: that one's sender, or the timer, will send)."""
        if time.monotonic() - job.claimed_at < self.lease.total_seconds() / 2:
            return True
        assert self.reclaim is not None
        token = self._in_flight.get(job.delivery_id, job.claim_token)
        return await self.reclaim(job.delivery_id, token)

    # --- results -------------------------------------------------------------------------------
    async def _writer(self) -> None:
        while True:
            first = await self._results.get()
            # Linger a moment: one transaction for many results (arrivals are already done,
            # so this costs no delivery latency, only the log's).
            await asyncio.sleep(WRITE_LINGER)
            batch = [first] if first is not None else []
            while len(batch) < WRITE_BATCH and not self._results.empty():
                item = self._results.get_nowait()
                if item is not None:
                    batch.append(item)
            if not batch:
                continue
            try:
                assert self.db is not None and self.apply is not None
                async with self.db.transaction() as session:
                    await self.apply(session, batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The claims expire and the durable timers try again: at least once.
                log.exception("webhook results not recorded (%d); timers will retry", len(batch))
            finally:
                for result in batch:
                    self._in_flight.pop(result.job.delivery_id, None)

    async def idle(self, timeout: float = 30) -> None:
        """Wait until nothing is queued, in flight or unwritten (bench and tests)."""
        deadline = time.monotonic() + timeout
        while self.busy() or not self._results.empty():
            if time.monotonic() > deadline:
                raise TimeoutError("webhook dispatcher still busy")
            await asyncio.sleep(0.01)
