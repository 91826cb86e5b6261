"""Notify's people part for `relais bench notify`, in a process of its own.

`relais serve notify` with NOTIFY_PARTS=people: the deployment that keeps email work off the
webhook process (a Python process uses one core; this machine has two). It consumes the same
referral events, in its own consumer group, into its own SQLite file, while the bench's
process runs the webhooks part. The bench reads that file's inbox to know when the people
part has caught up.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from services.kit.db import Database
from services.kit.embedded import free_port
from services.kit.inbox import InboxRecord
from services.notify.people import PURPOSE
from services.notify.settings import NotifySettings


@dataclass
class PeopleProcess:
    db: Database  # the process's database, read for its inbox
    group: str  # its consumer group


@asynccontextmanager
async def people_process(
    bootstrap: str, var: Path, group_prefix: str
) -> AsyncIterator[PeopleProcess]:
    await asyncio.to_thread(var.mkdir, parents=True, exist_ok=True)
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{var / 'notify.db'}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "RELAIS_ENVIRONMENT": "test",
        "NOTIFY_PARTS": "people",
        "NOTIFY_HOST": "127.0.0.1",
        "NOTIFY_PORT": str(port),
        "NOTIFY_VAR_DIR": str(var),
        "NOTIFY_DATABASE_URL": database_url,
        "NOTIFY_CONSUMER_GROUP_PREFIX": group_prefix,
        "NOTIFY_LOG_LEVEL": "WARNING",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from services.cli.main import app; app()",
        "serve",
        "notify",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    settings = NotifySettings(consumer_group_prefix=group_prefix)
    db = Database(database_url, [InboxRecord])
    try:
        await _healthy(f"http://127.0.0.1:{port}/healthz", child)
        yield PeopleProcess(db, settings.consumer_group(PURPOSE))
    finally:
        if child.returncode is None:
            child.terminate()
        await child.wait()
        await db.dispose()


async def _healthy(url: str, child: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            if child.returncode is not None:
                raise RuntimeError(f"notify's people process exited ({child.returncode})")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("notify's people process did not start")
            await asyncio.sleep(0.1)
