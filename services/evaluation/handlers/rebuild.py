"""Rebuild the projections from the archive, into a fresh generation, then swap it in.

1. stream the archive in large batches (SQLAlchemy Core, keyset on `seq`) and fold every
   event in memory with the pure projector;
2. bulk-insert the facts and rollups under generation g+1, which no reader uses yet;
3. in one transaction that locks the state row (live folds hold it `FOR SHARE`): fold what
   was archived meanwhile into g+1 through the live path (idempotent), replace the small
   member and search tables, point readers at g+1;
4. delete generation g.

Reads see g until the swap commits, then g+1: never a half-built projection.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, delete, func, insert, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from services.evaluation.handlers.store import (
    STATE,
    ensure_state,
    fact_row,
    fold_event,
    member_row,
    search_row,
)
from services.evaluation.models import (
    ROLLUP_MODELS,
    ArchivedEvent,
    KnownMember,
    ProjectionState,
    ReferralFactRow,
    SearchStat,
)
from services.evaluation.projections.facts import Projection, TerritoryOf
from services.evaluation.projections.rollups import LEVEL_DIMENSIONS, METRICS, RollupTotals
from services.kit.db import Database, table_of

Progress = Callable[[str, int, int], None]  # phase, done, total
ARCHIVE = table_of(ArchivedEvent)
FACTS = table_of(ReferralFactRow)
CATCH_UP_WINDOW = 1_000  # archive rows re-checked below the snapshot (late commits)


@dataclass
class RebuildResult:
    events: int
    referrals: int
    rollup_rows: int
    members: int
    caught_up: int
    generation: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def _insert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(table), list(rows))


async def _insert_raw(
    conn: AsyncConnection, table: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """executemany straight to the driver: SQLAlchemy's per-row parameter building is most of
    the cost of a bulk insert; the columns' own bind processors still apply (datetimes)."""
    if not rows:
        return
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    if any(processors):
        params = [
            tuple(p(x) if p is not None else x for x, p in zip(row, processors, strict=True))
            for row in rows
        ]
    else:
        params = list(rows)
    await conn.exec_driver_sql(sql, params)


async def _bulk(
    db: Database,
    table: Table,
    names: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    chunk: int,
    tick: Callable[[int], None],
) -> None:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            async with db.engine.begin() as conn:
                await _insert_raw(conn, table, names, batch)
            tick(len(batch))
            batch = []
    async with db.engine.begin() as conn:
        await _insert_raw(conn, table, names, batch)
    tick(len(batch))


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)  # SQLite: naive UTC text


def _data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)  # type: ignore[no-any-return]


async def rebuild(
    db: Database,
    territory_of: TerritoryOf,
    *,
    now: datetime,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> RebuildResult:
    """See the module docstring. The cyclic garbage collector is paused meanwhile: the fold
    allocates millions of small objects that live to the end, which it would rescan again
    and again for nothing (a third of the time on a million events)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return await _rebuild(db, territory_of, now=now, batch_size=batch_size, progress=progress)
    finally:
        if was_enabled:
            gc.enable()


async def _rebuild(
    db: Database,
    territory_of: TerritoryOf,
    *,
    now: datetime,
    batch_size: int = 20_000,
    progress: Progress | None = None,
) -> RebuildResult:
    started = time.perf_counter()
    report = progress or (lambda _phase, _done, _total: None)
    async with db.transaction() as session:
        state = await ensure_state(session)
        new = state.generation + 1
    for table in (FACTS, *(table_of(m) for m in ROLLUP_MODELS.values())):
        async with db.engine.begin() as conn:  # leftovers of an interrupted rebuild
            await conn.execute(delete(table).where(table.c.generation >= new))

    async with db.engine.connect() as conn:
        total = int((await conn.execute(select(func.count()).select_from(ARCHIVE))).scalar_one())
        snapshot = int(
            (await conn.execute(select(func.coalesce(func.max(ARCHIVE.c.seq), 0)))).scalar_one()
        )
    projection = Projection()
    seen_near_snapshot: set[int] = set()
    last, done = 0, 0
    columns = (ARCHIVE.c.seq, ARCHIVE.c.id, ARCHIVE.c.type, ARCHIVE.c.time, ARCHIVE.c.data)
    # time and data read raw (the driver's own types), decoded once here: faster than the
    # columns' result processors, the same values
    raw_columns = (
        ARCHIVE.c.seq,
        ARCHIVE.c.id,
        ARCHIVE.c.type,
        type_coerce(ARCHIVE.c.time, String),
        type_coerce(ARCHIVE.c.data, String),
    )
    report("archive", 0, total)
    while True:
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(*raw_columns)
                    .where(ARCHIVE.c.seq > last, ARCHIVE.c.seq <= snapshot)
                    .order_by(ARCHIVE.c.seq)
                    .limit(batch_size)
                )
            ).all()
        if not rows:
            break
        fold = projection.fold
        for seq, event_id, type_name, when, data in rows:
            fold(event_id, type_name, _time(when), _data(data), territory_of)
            if seq > snapshot - CATCH_UP_WINDOW:
                seen_near_snapshot.add(seq)
        last = rows[-1][0]
        done += len(rows)
        report("archive", done, total)

    totals = RollupTotals.of(projection.referrals)
    n_rollups = sum(len(rows) for rows in totals.rows.values())
    to_write = len(projection.referrals) + n_rollups
    written = 0

    def tick(n: int) -> None:
        nonlocal written
        written += n
        report("write", written, to_write)

    report("write", 0, to_write)
    facts = [f for _, f in sorted(projection.referrals.items())]
    if facts:
        names = list(fact_row(facts[0], new))
        fact_rows = (tuple(fact_row(f, new).values()) for f in facts)
        await _bulk(db, FACTS, names, fact_rows, 5_000, tick)
    for level, rows_of_level in totals.rows.items():
        await _bulk(
            db,
            table_of(ROLLUP_MODELS[level]),
            ["generation", *LEVEL_DIMENSIONS[level], *METRICS],
            ((new, *key, *v) for key, v in sorted(rows_of_level.items())),
            2_000,
            tick,
        )

    caught_up = 0
    async with db.transaction() as session:
        locked = await session.get(ProjectionState, STATE, with_for_update=True)
        assert locked is not None
        conn = await session.connection()
        await conn.execute(delete(table_of(KnownMember)))
        await conn.execute(delete(table_of(SearchStat)))
        await _insert(
            conn, table_of(KnownMember), [member_row(m) for m in projection.members.values()]
        )
        await _insert(
            conn, table_of(SearchStat), [search_row(s) for s in projection.searches.values()]
        )
        late = (
            await conn.execute(
                select(*columns)
                .where(ARCHIVE.c.seq > snapshot - CATCH_UP_WINDOW)
                .order_by(ARCHIVE.c.seq)
            )
        ).all()
        for seq, event_id, type_name, when, data in late:
            if seq in seen_near_snapshot:
                continue
            await fold_event(session, new, event_id, type_name, when, data, territory_of)
            caught_up += 1
        events = projection.events + caught_up
        locked.generation, locked.events, locked.rebuilt_at = new, events, now
        session.add(locked)
    for table in (FACTS, *(table_of(m) for m in ROLLUP_MODELS.values())):
        async with db.engine.begin() as conn:
            await conn.execute(delete(table).where(table.c.generation < new))
    return RebuildResult(
        events=projection.events + caught_up,
        referrals=len(projection.referrals),
        rollup_rows=n_rollups,
        members=len(projection.members),
        caught_up=caught_up,
        generation=new,
        seconds=time.perf_counter() - started,
    )
