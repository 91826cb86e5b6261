"""`relais replay`: refill a broker from the services' outboxes (kept published events)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from services.cli.catalog import ServiceSpec
from services.kit.clock import PARIS
from services.kit.db import Database
from services.kit.messaging import EventPublisher, ensure_topics
from services.kit.outbox import OutboxRecord, replay_since
from services.kit.settings import ServiceSettings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `7d`, `1w` (ago) or an ISO date/datetime; naive means Europe/Paris.

    Returned in UTC: outbox times are stored as UTC wall-clock in SQLite, where comparisons
    are textual, so the bound must be UTC too.
    """
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        amount, unit = float(match.group(1)), _UNITS[match.group(2)]
        return (now - timedelta(**{unit: amount})).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"date invalide {text!r} : attendu une durée (2h, 30m, 7d) ou une date ISO "
            "(2026-01-05 ou 2026-01-05T09:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.astimezone(UTC)


def _is_member_feed(topic: str) -> bool:
    return topic.startswith("member.") and topic.endswith(".feed")


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return False
    database = parsed.database
    return not database or database == ":memory:" or not Path(database).exists()


async def replay_service(
    spec: ServiceSpec,
    since: datetime,
    *,
    settings: ServiceSettings | None = None,
    bootstrap: str | None = None,
    partitions: int = 6,
) -> int | None:
    """Republish `spec`'s outbox rows since `since`; None when it has no database yet."""
    settings = settings or spec.settings()
    url = settings.effective_database_url
    if _sqlite_file_missing(url):
        return None  # never ran: nothing to replay, and do not create an empty file
    bootstrap = bootstrap or settings.kafka_bootstrap_servers
    db = Database(url)  # no tables of its own: it only reads the outbox
    try:
        async with db.engine.connect() as conn:
            has_outbox = await conn.run_sync(lambda c: inspect(c).has_table("outbox"))
            if not has_outbox:
                return None
            result = await conn.execute(
                select(col(OutboxRecord.topic)).where(col(OutboxRecord.time) >= since).distinct()
            )
            topics = sorted({row[0] for row in result})
        if not topics:
            return 0
        # A fresh broker knows only the static topics: recreate per-member feeds too.
        await ensure_topics(
            bootstrap, topics, partitions, one_partition=[t for t in topics if _is_member_feed(t)]
        )
        publisher = EventPublisher(bootstrap, f"relais-replay-{spec.name}")
        await publisher.start()
        try:
            return await replay_since(db, publisher.enqueue, since)
        finally:
            await publisher.stop()
    finally:
        await db.dispose()
