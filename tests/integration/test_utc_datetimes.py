"""Datetimes come back aware and in UTC from SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from services.kit.clock import PARIS
from services.kit.db import Database
from services.kit.timers import TimerRecord, schedule


async def test_a_paris_time_is_stored_as_the_same_instant(database_url: str) -> None:
    db = Database(database_url, [TimerRecord])
    await db.create_all()
    try:
        paris = datetime(2026, 3, 29, 9, 30, tzinfo=PARIS)  # the morning of the DST change
        async with db.transaction() as session:
            await schedule(session, kind="k", key="a", due_at=paris)
        async with db.session() as session:
            stored = (await session.exec(select(TimerRecord))).one()
        assert stored.due_at.tzinfo is not None
        assert stored.due_at == paris
        assert stored.due_at.utcoffset() == timedelta(0)
        assert stored.due_at < datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    finally:
        await db.dispose()


async def test_a_naive_datetime_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'n.db'}", [TimerRecord])
    await db.create_all()
    try:
        with pytest.raises(Exception, match="naive datetime"):
            async with db.transaction() as session:
                await schedule(session, kind="k", key="b", due_at=datetime(2026, 1, 1, 9, 0))
    finally:
        await db.dispose()
