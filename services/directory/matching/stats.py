"""Search statistics: match searches counted in memory (no write per query), drained
periodically as `SearchStatistics` events.

Searches are counted per stage at EPCI level (at commune level for the few communes outside
any EPCI). At drain time, a bucket with fewer than `min_count` searches is not published on
its own: it joins its département's remainder bucket (territory = the département, meaning
"the other searches of that département"), published if it reaches `min_count`, else dropped,
so no one can be traced from a rare search.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from contracts.base import Territory, TerritoryLevel
from contracts.events.directory import SearchStatistics
from services.directory.geo import Geography

Bucket = tuple[str, str, str | None]  # (level, code, stage)


@dataclass
class Counts:
    searches: int = 0
    without_result: int = 0

    def add(self, other: Counts) -> None:
        self.searches += other.searches
        self.without_result += other.without_result


@dataclass
class SearchStats:
    geo: Geography
    period_start: datetime | None = None
    _buckets: dict[Bucket, dict[str, Counts]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, commune: str, stage: str | None, found: bool) -> None:
        """Count one search (an unknown commune is not counted)."""
        place = self.geo.commune(commune)
        if place is None:
            return
        level, code = ("epci", place.epci) if place.epci else ("commune", place.code)
        with self._lock:
            by_dep = self._buckets.setdefault((level, code, stage), {})
            counts = by_dep.get(place.departement)
            if counts is None:
                counts = by_dep[place.departement] = Counts()
            counts.searches += 1
            if not found:
                counts.without_result += 1

    @property
    def pending(self) -> int:
        """Searches counted since the last drain."""
        with self._lock:
            return sum(c.searches for d in self._buckets.values() for c in d.values())

    def start(self, now: datetime) -> None:
        """Open the first period (the service's start time)."""
        if self.period_start is None:
            self.period_start = now

    def drain(self, now: datetime, min_count: int = 5) -> list[SearchStatistics]:
        """The period's aggregates (small counts suppressed); starts a new period at `now`."""
        with self._lock:
            buckets, self._buckets = self._buckets, {}
            start, self.period_start = self.period_start or now, now
        period = {"period_start": start.isoformat(), "period_end": now.isoformat()}
        events: list[SearchStatistics] = []
        remainder: dict[tuple[str, str | None], Counts] = {}
        for (level, code, stage), by_dep in sorted(buckets.items(), key=_order):
            total = Counts()
            for counts in by_dep.values():
                total.add(counts)
            if total.searches >= min_count:
                events.append(_event(period, level, code, stage, total))
                continue
            for dep, counts in by_dep.items():  # an EPCI astride départements splits
                remainder.setdefault((dep, stage), Counts()).add(counts)
        for (dep, stage), counts in sorted(remainder.items(), key=_order):
            if counts.searches >= min_count:
                events.append(_event(period, "departement", dep, stage, counts))
        return events


def _order(item: tuple[tuple[str | None, ...], object]) -> tuple[str, ...]:
    return tuple(part or "" for part in item[0])


def _event(
    period: dict[str, str], level: str, code: str, stage: str | None, counts: Counts
) -> SearchStatistics:
    return SearchStatistics(
        **period,
        territory=Territory(level=TerritoryLevel(level), code=code),
        stage=stage,
        searches=counts.searches,
        searches_without_result=counts.without_result,
    )
