"""Database engine from a URL (SQLite file under var/ by default, PostgreSQL by URL).

`Database` is built by a service's `create_app`, never at import. It knows which tables the
service owns, and tells listeners after a commit that wrote outbox rows or timers, so the
relay and the timer runner wake at once instead of polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.sqlite_inline import inline_connector

WAKE_KEYS = "relais_wake"
STAGED_ROWS = "relais_staged_rows"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand them back naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (the clock gives UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel table class."""
    table: Table = getattr(model, "__table__")  # noqa: B009 - set by the SQLModel metaclass
    return table


def normalise_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(
        self, url: str, models: Sequence[type[SQLModel]] = (), *, echo: bool = False
    ) -> None:
        self.url = normalise_url(url)
        self.tables = [table_of(model) for model in models]
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                kwargs["async_creator"] = inline_connector(database)
            else:
                kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        # SQLite has one writer at a time, and its busy handler makes waiting writers sleep
        # and retry (unfair, with long tails under load): writers queue on a FIFO lock here.
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self.sessionmaker = async_sessionmaker(
            self.engine,
            class_=QueuedWriterSession,
            expire_on_commit=False,
            autoflush=False,
            info={"relais_db": self},
        )

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=self.tables))

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync: SQLModel.metadata.drop_all(sync, tables=self.tables))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    # --- commit notifications -------------------------------------------------------
    def on_commit(self, key: str, callback: Callable[[], None]) -> None:
        """Call `callback` (from any thread) after a commit that marked `key` dirty."""
        self._listeners.setdefault(key, []).append(callback)

    def fire(self, keys: set[str]) -> None:
        for key in keys:
            for callback in self._listeners.get(key, []):
                callback()


class QueuedWriterSession(AsyncSession):
    """An AsyncSession that, on SQLite, takes the database's FIFO write lock before its first
    write and keeps it until commit or rollback, so concurrent writers queue in the event loop
    instead of sleeping in SQLite's busy handler. Autoflush is off at the sessionmaker and
    done here instead (before a query, as SQLAlchemy would), under the lock. On PostgreSQL
    it is a plain AsyncSession with that async autoflush.
    """

    _holds_write_lock = False

    def _write_lock(self) -> asyncio.Lock | None:
        database = self.sync_session.info.get("relais_db")
        return database.write_lock if isinstance(database, Database) else None

    def _has_pending_writes(self) -> bool:
        return bool(self.sync_session.info.get(STAGED_ROWS)) or not self.sync_session._is_clean()

    async def _acquire_for_write(self) -> None:
        lock = self._write_lock()
        if lock is not None and not self._holds_write_lock:
            await lock.acquire()
            self._holds_write_lock = True

    def _release(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            lock = self._write_lock()
            assert lock is not None
            lock.release()

    async def _prepare(self, statement: Any = None) -> None:
        """Flush pending objects (autoflush) and, for writes, queue for the write lock."""
        if getattr(statement, "is_dml", False):
            await self._acquire_for_write()
        if self._has_pending_writes():
            await self._acquire_for_write()
            await self.run_sync(insert_staged_rows)
            await super().flush()

    async def exec(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._prepare(statement)
        return await super().exec(statement, *args, **kwargs)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._prepare(statement)
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._prepare(statement)
        return await super().scalar(statement, *args, **kwargs)

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        await self._prepare(statement)
        return await super().scalars(statement, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._prepare()
        return await super().get(*args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await self._prepare()
        await super().refresh(*args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        if self._has_pending_writes():
            await self._acquire_for_write()
            await self.run_sync(insert_staged_rows)
        await super().flush(objects)

    async def commit(self) -> None:
        if self._has_pending_writes():
            await self._acquire_for_write()
        try:
            await super().commit()
        finally:
            self._release()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._release()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._release()


def stage_insert(
    session: AsyncSession | Session,
    table: Table,
    row: dict[str, Any],
    *,
    if_absent: bool = False,
) -> None:
    """Insert `row` into `table` with this transaction, without an ORM object.

    For hot-path rows (outbox, timers, insert-only records): building and flushing a mapped
    object costs several times the insert. Rows go in before the ORM objects, in staging
    order, at the next query or flush (as autoflush would) or at commit; a rollback drops
    them. `if_absent`: a row whose key exists already is skipped (ON CONFLICT DO NOTHING).
    """
    info = session.info if isinstance(session, Session) else session.sync_session.info
    info.setdefault(STAGED_ROWS, []).append((table, row, if_absent))


def stage_object(session: AsyncSession | Session, obj: SQLModel) -> None:
    """`stage_insert` a new mapped object's column values; the object itself stays out of
    the session (transient): read it, answer with it, do not change it. An autoincrement key
    left at None is left to the database."""
    table = table_of(type(obj))
    row = {column.name: getattr(obj, column.name) for column in table.columns}
    for column in table.primary_key.columns:
        if row.get(column.name) is None:
            del row[column.name]
    stage_insert(session, table, row)


def insert_staged_rows(session: Session) -> None:
    staged: list[tuple[Table, dict[str, Any], bool]] = session.info.pop(STAGED_ROWS, None) or []
    if not staged:
        return
    connection = session.connection()  # Core: the ORM's execute path costs twice as much
    start = 0
    while start < len(staged):  # consecutive rows of one kind go in one executemany
        table, _, if_absent = staged[start]
        end = start + 1
        while end < len(staged) and staged[end][0] is table and staged[end][2] == if_absent:
            end += 1
        statement = _insert_if_absent(connection.dialect.name, table) if if_absent else None
        rows = [row for _, row, _ in staged[start:end]]
        connection.execute(statement if statement is not None else table.insert(), rows)
        start = end


def _insert_if_absent(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


def mark_dirty(session: AsyncSession | Session, key: str) -> None:
    """Ask for `key` listeners to be woken once this session commits."""
    info = session.info if isinstance(session, Session) else session.sync_session.info
    info.setdefault(WAKE_KEYS, set()).add(key)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    keys = session.info.pop(WAKE_KEYS, None)
    database = session.info.get("relais_db")
    if keys and isinstance(database, Database):
        database.fire(keys)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    insert_staged_rows(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(WAKE_KEYS, None)
    session.info.pop(STAGED_ROWS, None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def threadsafe_setter(loop: asyncio.AbstractEventLoop, flag: asyncio.Event) -> Callable[[], None]:
    """A callback that sets an asyncio.Event from whatever thread commits."""

    def wake() -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            flag.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(flag.set)

    return wake
