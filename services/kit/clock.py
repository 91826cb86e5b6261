"""Injectable time. Services never call datetime.now() directly; tests move a ManualClock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def on_change(self, callback: Callable[[], None]) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Wall time never jumps on request: nothing to notify."""


class ManualClock:
    """A clock that only moves when told to; timer runners wake when it does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._callbacks: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._now

    def on_change(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        for callback in self._callbacks:
            callback()
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment
        for callback in self._callbacks:
            callback()


def paris_day(moment: datetime) -> date:
    """The Europe/Paris calendar day of a moment: 'daily' and business days use it."""
    return moment.astimezone(PARIS).date()


def add_calendar_days(moment: datetime, days: int) -> datetime:
    """Same Paris wall-clock time `days` calendar days later (DST-safe)."""
    local = moment.astimezone(PARIS)
    return (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=PARIS).astimezone(UTC)
