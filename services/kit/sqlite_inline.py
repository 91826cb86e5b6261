"""SQLite on the event loop's own thread.

aiosqlite runs each statement on a helper thread and hands the result back through the event
loop: two thread switches and a loop wake-up per call, about 0.3 ms of CPU, against a few
microseconds for the statement itself on a local WAL database (reads come from the page
cache; commits write the WAL without fsync at synchronous=NORMAL). For a service whose
requests run ten statements, that hand-off was a third of its CPU.

`InlineSqliteConnection` keeps aiosqlite's interface (SQLAlchemy's aiosqlite dialect drives
it unchanged) but runs every call at once, inline. What it costs: a statement that must
wait blocks the loop. Writers inside the process never wait on SQLite: they queue on the
database's FIFO write lock first (`services.kit.db.QueuedWriterSession`), and WAL readers do
not wait on writers. Another *process* writing the same file (a CLI command) can make a
writer wait up to `busy_timeout_ms`; that bound is kept short for that reason.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite

BUSY_TIMEOUT_SECONDS = 5.0


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: runs each call as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineSqliteConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Any:
        return self._connect().__await__()  # no helper thread to start


def inline_connector(path: str) -> Callable[[], Awaitable[InlineSqliteConnection]]:
    """An `async_creator` for `create_async_engine` opening `path` inline."""

    async def connect() -> InlineSqliteConnection:
        connector = partial(
            sqlite3.connect, path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
        )
        return await InlineSqliteConnection(connector)

    return connect
