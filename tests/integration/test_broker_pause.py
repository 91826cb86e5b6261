"""A stalled broker loses nothing: the outbox relay keeps retrying and catches up on resume.

The embedded broker is frozen with SIGSTOP (connections stay open, nothing answers), which is
nastier than a refused connection: every send has to time out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from contracts.events.referral import ReferralSent
from services.kit.clock import ManualClock
from services.kit.db import Database
from services.kit.embedded import EmbeddedBroker
from services.kit.messaging import EventPublisher, ensure_topics
from services.kit.outbox import OutboxRecord, OutboxRelay, add_event
from tests.harness.kafka import read_topic
from tests.harness.stack import wait_until

SOURCE = "/relais/test-pause"
PROJECTS = ["prj_a", "prj_b", "prj_c"]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/pause.db", [OutboxRecord])
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


def sent(project: str, referral: str) -> ReferralSent:
    return ReferralSent(
        project_id=project,
        referral_id=referral,
        sender_member_id="mbr_amiens",
        receiver_member_id="mbr_lille",
    )


async def test_relay_retries_while_the_broker_is_paused_and_loses_nothing(
    embedded_broker: EmbeddedBroker,
    kafka_bootstrap: str,
    db: Database,
    unique_name: Callable[..., str],
) -> None:
    topic = unique_name("pause")
    await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    publisher = EventPublisher(kafka_bootstrap, "relais-test-pause")
    await publisher.start()
    relay = OutboxRelay(db, publisher.enqueue, clock, max_backoff=1.0)
    relay.start()
    expected: dict[str, list[str]] = defaultdict(list)
    counter = 0

    async def commit_round() -> None:
        nonlocal counter
        async with db.transaction() as session:
            for project in PROJECTS:
                counter += 1
                envelope = add_event(
                    session,
                    sent(project, f"ref_{counter}"),
                    source=SOURCE,
                    clock=clock,
                    topic=topic,
                )
                expected[project].append(envelope.id)

    async def unpublished() -> list[OutboxRecord]:
        async with db.session() as session:
            rows = await session.exec(
                select(OutboxRecord).where(OutboxRecord.published_at == None)  # noqa: E711
            )
            return list(rows.all())

    async def nothing_left() -> bool:
        return not await unpublished()

    try:
        await commit_round()  # warm up: topic metadata known, connections open
        await wait_until(nothing_left, timeout=10, what="warm-up published")
        assert relay.healthy

        embedded_broker.pause()
        try:
            for _ in range(3):
                await commit_round()

            async def relay_struggling() -> bool:
                return not relay.healthy

            # Every send has to time out (request timeout 10 s) before the relay notices.
            await wait_until(relay_struggling, timeout=30, what="relay to notice the broker")
            await commit_round()  # written while the relay is retrying
            assert len(await unpublished()) == 4 * len(PROJECTS)
        finally:
            embedded_broker.resume()

        resumed = time.monotonic()
        await wait_until(nothing_left, timeout=30, what="backlog published after resume")
        caught_up = time.monotonic() - resumed
        await wait_until(lambda: _true(relay.healthy), timeout=5, what="relay healthy")

        total = 5 * len(PROJECTS)
        records = await read_topic(kafka_bootstrap, topic, at_least=total)
        first_seen: dict[str, list[str]] = defaultdict(list)
        for record in records:
            assert record.key is not None
            ce_id = dict(record.headers)["ce_id"].decode()
            if ce_id not in first_seen[record.key.decode()]:  # at-least-once: dups allowed
                first_seen[record.key.decode()].append(ce_id)
        assert dict(first_seen) == dict(expected)  # nothing lost, order per key kept
        assert caught_up < 15, f"took {caught_up:.1f}s to catch up after resume"
    finally:
        await relay.stop()
        await publisher.stop()


async def _true(value: object) -> bool:
    return bool(value)
