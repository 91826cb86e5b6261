"""Search statistics: counted in memory at EPCI level, small counts suppressed at drain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.base import TerritoryLevel
from contracts.events.directory import SearchStatistics
from services.directory.geo import load
from services.directory.matching import SearchStats

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AMIENS, LONGUEAU = "80021", "80489"  # both in Amiens Métropole (EPCI 248000531)
ABBEVILLE, DOULLENS, ALBERT = "80001", "80253", "80016"  # other EPCIs of the Somme


def by_territory(
    events: list[SearchStatistics],
) -> dict[tuple[str, str, str | None], tuple[int, int]]:
    return {
        (e.territory.level.value, e.territory.code, e.stage): (
            e.searches,
            e.searches_without_result,
        )
        for e in events
    }


def test_searches_aggregate_at_epci_level_per_stage() -> None:
    geo = load()
    assert geo.commune(LONGUEAU).epci == geo.commune(AMIENS).epci == "248000531"  # type: ignore[union-attr]
    stats = SearchStats(geo)
    stats.start(START)
    for _ in range(4):
        stats.record(AMIENS, "creation", found=True)
    stats.record(LONGUEAU, "creation", found=False)
    for _ in range(6):
        stats.record(AMIENS, "idee", found=True)
    stats.record("80999", "idee", found=False)  # unknown commune: not counted
    assert stats.pending == 11
    end = START + timedelta(hours=1)
    events = stats.drain(end, min_count=5)
    assert by_territory(events) == {
        ("epci", "248000531", "creation"): (5, 1),
        ("epci", "248000531", "idee"): (6, 0),
    }
    assert all(e.period_start == START.isoformat() for e in events)
    assert all(e.period_end == end.isoformat() for e in events)
    assert all(e.record_key() is None for e in events)  # aggregate: no record key
    # Drained: the next period starts empty at the end of this one.
    assert stats.pending == 0
    stats.record(AMIENS, "idee", found=True)
    assert stats.drain(end + timedelta(hours=1), min_count=1)[0].period_start == end.isoformat()


def test_small_buckets_merge_into_the_departement_remainder_or_vanish() -> None:
    geo = load()
    stats = SearchStats(geo)
    for commune, count in ((ABBEVILLE, 2), (DOULLENS, 2), (ALBERT, 1)):
        for _ in range(count):
            stats.record(commune, "creation", found=False)
    stats.record(ABBEVILLE, "idee", found=True)  # alone: dropped
    for _ in range(7):
        stats.record(AMIENS, "creation", found=True)
    events = stats.drain(START, min_count=5)
    assert by_territory(events) == {
        ("epci", "248000531", "creation"): (7, 0),
        ("departement", "80", "creation"): (5, 5),  # three small EPCIs, merged
    }
    assert all(e.territory.level != TerritoryLevel.commune for e in events)
    # Nothing below the threshold is ever published on its own.
    assert all(e.searches >= 5 for e in events)


def test_communes_outside_any_epci_count_at_commune_level() -> None:
    geo = load()
    outside = next(c for c in geo.communes.values() if c.epci is None)
    stats = SearchStats(geo)
    for _ in range(5):
        stats.record(outside.code, None, found=True)
    [event] = stats.drain(START, min_count=5)
    assert (event.territory.level, event.territory.code, event.stage) == (
        TerritoryLevel.commune,
        outside.code,
        None,
    )
