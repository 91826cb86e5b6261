"""The durable timer store: due times by the injected clock, retries, claiming, DST.

Runs on a temp SQLite file. Nothing sleeps for a business delay: the ManualClock moves and
the runner either runs a pass directly (`run_due`) or is woken by the clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.clock import PARIS, ManualClock, add_calendar_days, paris_day
from services.kit.db import Database
from services.kit.timers import Fired, TimerRecord, TimerRunner, cancel, schedule
from tests.harness.stack import wait_until

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KIND = "referral.reminder"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/timers.db", [TimerRecord])
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class Recorder:
    """A timer handler that records each firing (key, payload, clock time)."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, dict[str, Any], datetime]] = []

    async def __call__(self, fired: Fired) -> None:
        self.fired.append((fired.timer.key, dict(fired.timer.payload), fired.clock.now()))

    def keys(self) -> list[str]:
        return [key for key, _, _ in self.fired]


class CountingRunner(TimerRunner):
    """Records the clock time each completed pass ran at, so a test can wait for a pass
    that saw a given time instead of sleeping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes: list[datetime] = []

    async def run_due(self, limit: int = 200) -> int:
        seen = self.clock.now()
        fired = await super().run_due(limit)
        self.passes.append(seen)
        return fired

    async def pass_at_or_after(self, moment: datetime) -> None:
        async def done() -> bool:
            return any(seen >= moment for seen in self.passes)

        await wait_until(done, timeout=5, what=f"a timer pass at {moment:%Y-%m-%d %H:%M}")


async def add_timer(
    db: Database, key: str, due_at: datetime, payload: dict[str, Any] | None = None
) -> None:
    async with db.transaction() as session:
        await schedule(session, kind=KIND, key=key, due_at=due_at, payload=payload)


async def timer_row(db: Database, key: str) -> TimerRecord:
    async with db.session() as session:
        row = (
            await session.exec(
                select(TimerRecord).where(TimerRecord.kind == KIND, TimerRecord.key == key)
            )
        ).one()
    return row


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- firing by the clock -----------------------------------------------------------------


async def test_timer_fires_exactly_once_when_due_by_run_due(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "ref_1", START + timedelta(days=10), {"referral_id": "ref_1"})

    assert await runner.run_due() == 0
    clock.advance(timedelta(days=9))
    assert await runner.run_due() == 0
    assert handler.fired == []
    assert (await timer_row(db, "ref_1")).state == "pending"

    clock.advance(timedelta(days=1))  # exactly the due time
    assert await runner.run_due() == 1
    assert handler.fired == [("ref_1", {"referral_id": "ref_1"}, START + timedelta(days=10))]
    assert (await timer_row(db, "ref_1")).state == "done"

    clock.advance(timedelta(days=1))
    assert await runner.run_due() == 0
    assert len(handler.fired) == 1


async def test_started_runner_is_woken_by_the_clock(db: Database, clock: ManualClock) -> None:
    handler = Recorder()
    # A long poll: a firing within the wait below can only come from the clock's wake-up.
    runner = CountingRunner(db, clock, {KIND: handler}, poll_seconds=60)
    runner.start()
    try:
        await add_timer(db, "ref_1", START + timedelta(days=10))
        await runner.pass_at_or_after(START)

        at_nine = clock.advance(timedelta(days=9))
        await runner.pass_at_or_after(at_nine)
        assert handler.fired == []

        at_ten = clock.advance(timedelta(days=1))
        await wait_until(lambda: _true(handler.fired), timeout=5, what="timer fired")
        assert handler.keys() == ["ref_1"]
        assert handler.fired[0][2] == at_ten

        later = clock.advance(timedelta(days=1))
        await runner.pass_at_or_after(later)
        assert handler.keys() == ["ref_1"]
        assert (await timer_row(db, "ref_1")).state == "done"
    finally:
        await runner.stop()


async def test_started_runner_is_woken_by_a_commit_of_a_due_timer(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler}, poll_seconds=60)
    runner.start()
    try:
        await add_timer(db, "now", START)  # due at once: the commit wakes the runner
        await wait_until(lambda: _true(handler.fired), timeout=5, what="timer fired")
        assert handler.keys() == ["now"]
    finally:
        await runner.stop()


# --- scheduling ----------------------------------------------------------------------------


async def test_rescheduling_the_same_kind_and_key_moves_the_timer(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "ref_1", START + timedelta(days=10), {"v": 1})
    await add_timer(db, "ref_1", START + timedelta(days=20), {"v": 2})

    async with db.session() as session:
        rows = (await session.exec(select(TimerRecord))).all()
    assert len(rows) == 1
    assert utc(rows[0].due_at) == START + timedelta(days=20)

    clock.advance(timedelta(days=10))
    assert await runner.run_due() == 0
    clock.advance(timedelta(days=10))
    assert await runner.run_due() == 1
    assert handler.fired == [("ref_1", {"v": 2}, START + timedelta(days=20))]


async def test_rescheduling_a_done_timer_makes_it_pending_again(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "ref_1", START + timedelta(days=1))
    clock.advance(timedelta(days=1))
    assert await runner.run_due() == 1

    await add_timer(db, "ref_1", clock.now() + timedelta(days=1))
    assert (await timer_row(db, "ref_1")).state == "pending"
    clock.advance(timedelta(days=1))
    assert await runner.run_due() == 1
    assert handler.keys() == ["ref_1", "ref_1"]


async def test_cancel(db: Database, clock: ManualClock) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "keep", START + timedelta(days=1))
    await add_timer(db, "drop", START + timedelta(days=1))

    async with db.transaction() as session:
        assert await cancel(session, kind=KIND, key="drop") is True
    async with db.transaction() as session:
        assert await cancel(session, kind=KIND, key="drop") is False  # already cancelled
        assert await cancel(session, kind=KIND, key="never-scheduled") is False

    clock.advance(timedelta(days=2))
    assert await runner.run_due() == 1
    assert handler.keys() == ["keep"]
    assert (await timer_row(db, "drop")).state == "cancelled"
    async with db.transaction() as session:
        assert await cancel(session, kind=KIND, key="keep") is False  # done: nothing to cancel


async def test_timers_of_kinds_without_handler_are_left_alone(
    db: Database, clock: ManualClock
) -> None:
    runner = TimerRunner(db, clock, {KIND: Recorder()})
    async with db.transaction() as session:
        await schedule(session, kind="other.kind", key="x", due_at=START)
    assert await runner.run_due() == 0
    async with db.session() as session:
        other = (await session.exec(select(TimerRecord))).one()
    assert other.state == "pending"


# --- failures ------------------------------------------------------------------------------


async def test_failing_handler_is_retried_with_backoff_then_marked_failed(
    db: Database, clock: ManualClock
) -> None:
    calls: list[datetime] = []

    async def boom(fired: Fired) -> None:
        calls.append(fired.clock.now())
        raise RuntimeError("smtp down")

    runner = TimerRunner(db, clock, {KIND: boom}, max_attempts=3)
    await add_timer(db, "ref_1", START)

    assert await runner.run_due() == 0  # ran, failed: not counted as fired
    row = await timer_row(db, "ref_1")
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error == "RuntimeError: smtp down"
    assert row.claimed_until is None
    assert utc(row.due_at) == START + timedelta(seconds=2)  # backoff 2**1 s

    clock.advance(timedelta(seconds=1))
    await runner.run_due()
    assert len(calls) == 1  # backoff not elapsed yet

    clock.advance(timedelta(seconds=1))
    await runner.run_due()
    assert len(calls) == 2
    row = await timer_row(db, "ref_1")
    assert (row.state, row.attempts) == ("pending", 2)
    assert utc(row.due_at) == START + timedelta(seconds=2 + 4)  # backoff 2**2 s

    clock.advance(timedelta(seconds=4))
    await runner.run_due()
    assert len(calls) == 3
    row = await timer_row(db, "ref_1")
    assert (row.state, row.attempts) == ("failed", 3)
    assert row.last_error == "RuntimeError: smtp down"

    clock.advance(timedelta(days=30))
    assert await runner.run_due() == 0
    assert len(calls) == 3  # failed for good: never fired again


async def test_failed_attempt_rolls_back_the_handlers_writes(
    db: Database, clock: ManualClock
) -> None:
    async def schedule_then_fail(fired: Fired) -> None:
        await schedule(fired.session, kind=KIND, key="side-effect", due_at=START)
        raise RuntimeError("halfway")

    runner = TimerRunner(db, clock, {KIND: schedule_then_fail}, max_attempts=5)
    await add_timer(db, "ref_1", START)
    await runner.run_due()
    async with db.session() as session:
        keys = [t.key for t in (await session.exec(select(TimerRecord))).all()]
    assert keys == ["ref_1"]


async def test_a_handler_that_succeeds_after_a_failure_fires_once(
    db: Database, clock: ManualClock
) -> None:
    outcomes = iter([RuntimeError("flaky"), None])
    fired_ok: list[datetime] = []

    async def flaky(fired: Fired) -> None:
        error = next(outcomes)
        if error:
            raise error
        fired_ok.append(fired.clock.now())

    runner = TimerRunner(db, clock, {KIND: flaky})
    await add_timer(db, "ref_1", START)
    assert await runner.run_due() == 0
    clock.advance(timedelta(seconds=2))
    assert await runner.run_due() == 1
    assert fired_ok == [START + timedelta(seconds=2)]
    row = await timer_row(db, "ref_1")
    assert (row.state, row.attempts) == ("done", 1)


# --- several instances -----------------------------------------------------------------------


async def test_two_runners_on_the_same_database_fire_each_due_timer_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    db_a, db_b = Database(url, [TimerRecord]), Database(url, [TimerRecord])
    await db_a.create_all()
    calls: list[tuple[str, str]] = []

    def handler_for(instance: str):
        async def handle(fired: Fired) -> None:
            calls.append((instance, fired.timer.key))
            await asyncio.sleep(0)  # let the other instance try to take it meanwhile

        return handle

    runner_a = TimerRunner(db_a, clock, {KIND: handler_for("a")})
    runner_b = TimerRunner(db_b, clock, {KIND: handler_for("b")})
    try:
        keys = [f"ref_{i}" for i in range(20)]
        for key in keys:
            await add_timer(db_a, key, START + timedelta(days=1))
        clock.advance(timedelta(days=1))

        fired_a, fired_b = await asyncio.gather(runner_a.run_due(), runner_b.run_due())
        assert fired_a + fired_b == len(keys)
        assert sorted(key for _, key in calls) == sorted(keys)  # each exactly once

        # Started and woken together by the clock: still once each.
        calls.clear()
        for key in keys:
            await add_timer(db_b, f"later_{key}", clock.now() + timedelta(days=1))
        runner_a.start()
        runner_b.start()
        clock.advance(timedelta(days=1))

        async def all_fired() -> bool:
            return len(calls) >= len(keys)

        await wait_until(all_fired, timeout=10, what="later timers fired")
        await asyncio.gather(runner_a.run_due(), runner_b.run_due())  # one more pass each
        assert sorted(key for _, key in calls) == sorted(f"later_{k}" for k in keys)
    finally:
        await runner_a.stop()
        await runner_b.stop()
        await db_a.dispose()
        await db_b.dispose()


async def test_a_timer_claimed_by_another_instance_is_skipped_until_its_lease_ends(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler}, lease=timedelta(minutes=5))
    await add_timer(db, "ref_1", START)
    # Another instance claimed it and then died before finishing.
    async with db.transaction() as session:
        row = (await session.exec(select(TimerRecord))).one()
        row.claimed_until = START + timedelta(minutes=5)
        session.add(row)

    assert await runner.run_due() == 0
    clock.advance(timedelta(minutes=5))
    assert await runner.run_due() == 0  # lease still held at its last instant
    clock.advance(timedelta(seconds=1))
    assert await runner.run_due() == 1
    assert handler.keys() == ["ref_1"]


def after_the_claim(db: Database, meanwhile: Callable[[AsyncSession], Awaitable[Any]]) -> None:
    """Commit `meanwhile` right after the runner's claim commits, before the timer fires:
    what another request (answering the referral, say) may do at that very moment."""
    original = db.transaction
    transactions = 0

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        nonlocal transactions
        transactions += 1
        async with original() as session:
            yield session
        if transactions == 1:  # the claim
            async with original() as other:
                await meanwhile(other)

    db.transaction = transaction  # type: ignore[method-assign]


async def test_a_timer_cancelled_after_the_claim_does_not_fire(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "ref_1", START)

    async def cancel_it(session: AsyncSession) -> None:
        assert await cancel(session, kind=KIND, key="ref_1")

    after_the_claim(db, cancel_it)
    assert await runner.run_due() == 0
    assert handler.fired == []
    assert (await timer_row(db, "ref_1")).state == "cancelled"


async def test_a_timer_moved_after_the_claim_fires_at_its_new_time(
    db: Database, clock: ManualClock
) -> None:
    handler = Recorder()
    runner = TimerRunner(db, clock, {KIND: handler})
    await add_timer(db, "ref_1", START)

    async def move_it(session: AsyncSession) -> None:
        await schedule(session, kind=KIND, key="ref_1", due_at=START + timedelta(days=3))

    after_the_claim(db, move_it)
    assert await runner.run_due() == 0
    assert handler.fired == []
    row = await timer_row(db, "ref_1")
    assert (row.state, utc(row.due_at)) == ("pending", START + timedelta(days=3))
    clock.advance(timedelta(days=3))
    assert await runner.run_due() == 1
    assert handler.fired[0][2] == START + timedelta(days=3)


# --- a timer that reschedules itself ---------------------------------------------------------


async def test_a_handler_that_reschedules_its_own_timer_fires_again(
    db: Database, clock: ManualClock
) -> None:
    fired_at: list[datetime] = []

    async def daily_digest(fired: Fired) -> None:
        fired_at.append(fired.clock.now())
        if len(fired_at) < 3:
            await schedule(
                fired.session,
                kind=fired.timer.kind,
                key=fired.timer.key,
                due_at=add_calendar_days(fired.clock.now(), 1),
                payload={"round": len(fired_at) + 1},
            )

    runner = CountingRunner(db, clock, {KIND: daily_digest}, poll_seconds=60)
    await add_timer(db, "digest", START, {"round": 1})
    assert await runner.run_due() == 1
    row = await timer_row(db, "digest")
    assert (row.state, row.payload) == ("pending", {"round": 2})
    assert utc(row.due_at) == START + timedelta(days=1)
    assert await runner.run_due() == 0  # not due again yet

    runner.start()
    try:
        clock.advance(timedelta(days=1))
        await wait_until(lambda: _true(len(fired_at) == 2), timeout=5, what="second firing")
        clock.advance(timedelta(days=1))
        await wait_until(lambda: _true(len(fired_at) == 3), timeout=5, what="third firing")
        later = clock.advance(timedelta(days=5))
        await runner.pass_at_or_after(later)
    finally:
        await runner.stop()
    assert fired_at == [START, START + timedelta(days=1), START + timedelta(days=2)]
    assert (await timer_row(db, "digest")).state == "done"


# --- Paris calendar days --------------------------------------------------------------------


def test_add_calendar_days_keeps_paris_wall_time_across_spring_dst() -> None:
    sent = datetime(2026, 3, 20, 9, 0, tzinfo=PARIS)  # CET, UTC+1
    due = add_calendar_days(sent, 10)  # 2026-03-30: CEST, UTC+2 (DST began 2026-03-29)
    assert due.tzinfo == UTC
    assert due.astimezone(PARIS).replace(tzinfo=None) == datetime(2026, 3, 30, 9, 0)
    assert due == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert due - sent.astimezone(UTC) == timedelta(days=10, hours=-1)  # a 23-hour day inside
    assert paris_day(due).isoformat() == "2026-03-30"


def test_add_calendar_days_keeps_paris_wall_time_across_autumn_dst() -> None:
    sent = datetime(2026, 10, 20, 9, 0, tzinfo=PARIS)  # CEST, UTC+2
    due = add_calendar_days(sent, 10)  # 2026-10-30: CET, UTC+1 (DST ended 2026-10-25)
    assert due.astimezone(PARIS).replace(tzinfo=None) == datetime(2026, 10, 30, 9, 0)
    assert due == datetime(2026, 10, 30, 8, 0, tzinfo=UTC)


def test_add_calendar_days_accepts_utc_input_and_zero_or_negative_days() -> None:
    sent = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert add_calendar_days(sent, 0) == sent
    assert add_calendar_days(sent, 10).astimezone(PARIS).hour == 9
    back = add_calendar_days(datetime(2026, 3, 30, 7, 0, tzinfo=UTC), -10)
    assert back == sent


def test_paris_day_is_the_local_calendar_day() -> None:
    # 23:30 UTC on 31 Dec is already New Year's Day in Paris.
    assert paris_day(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)).isoformat() == "2026-01-01"


async def _true(value: object) -> bool:
    return bool(value)
