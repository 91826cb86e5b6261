"""Two transitions racing from the same state: one wins, the other is refused (SQLite, PostgreSQL).

Each twin reads the referral in its own session before the other commits, as two HTTP
requests (or a request and the expiry timer) would: without the compare-and-set on the
version, both would commit and both events would be published.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select

from services.kit.auth import Principal
from services.kit.clock import ManualClock
from services.kit.db import Database
from services.kit.errors import ApiError
from services.kit.outbox import Emitter, OutboxRecord
from services.kit.runtime import KIT_MODELS
from services.referral.crypto import Vault
from services.referral.handlers import referrals
from services.referral.handlers.common import Deps
from services.referral.models import MODELS, Referral, TransitionRecord
from services.referral.settings import ReferralSettings

SENDER = Principal("member:mbr_s", "mbr_s", ("tremplin",), ("member_tool",))
RECEIVER = Principal("member:mbr_r", "mbr_r", ("tremplin",), ("member_tool",))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, [*KIT_MODELS, *MODELS])
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


def deps_for(clock: ManualClock) -> Deps:
    settings = ReferralSettings(environment="test")
    return Deps(
        emit=Emitter(settings.event_source, clock),
        clock=clock,
        vault=Vault(settings.master_key_bytes),
        settings=settings,
    )


async def a_sent_referral(db: Database, clock: ManualClock) -> str:
    referral = Referral(
        project_id="prj_race",
        sender_member_id="mbr_s",
        receiver_member_id="mbr_r",
        network_id="tremplin",
        stage="creation",
        commune="80021",
        sent_at=clock.now(),
        updated_at=clock.now(),
    )
    async with db.transaction() as session:
        session.add(referral)
    return referral.id


async def history(db: Database, referral_id: str) -> tuple[Referral, list[str], list[str]]:
    async with db.session() as session:
        row = await session.get(Referral, referral_id)
        assert row is not None
        steps = (
            await session.exec(
                select(TransitionRecord.action).where(TransitionRecord.referral_id == referral_id)
            )
        ).all()
        events = (await session.exec(select(OutboxRecord.type))).all()
    return row, list(steps), list(events)


async def test_accept_and_decline_racing_one_wins(db: Database) -> None:
    clock = ManualClock()
    deps = deps_for(clock)
    rid = await a_sent_referral(db, clock)
    async with db.session() as late:
        stale = await late.get(Referral, rid)  # read before the other commits
        assert stale is not None
        async with db.session() as early:
            fresh = await early.get(Referral, rid)
            assert fresh is not None
            await referrals.act(early, fresh, "accept", {}, who=RECEIVER, deps=deps)
        with pytest.raises(ApiError) as refused:
            await referrals.act(
                late, stale, "decline", {"reason": "autre"}, who=RECEIVER, deps=deps
            )
        assert refused.value.status == 409
    row, steps, events = await history(db, rid)
    assert (row.status, row.version) == ("accepted", 2)
    assert steps == ["accept"]
    assert events == ["fr.relais.referral.accepted.v1"]


async def test_the_expiry_loses_to_an_answer_given_meanwhile(db: Database) -> None:
    clock = ManualClock()
    deps = deps_for(clock)
    rid = await a_sent_referral(db, clock)
    clock.advance(timedelta(days=30))
    async with db.session() as timer_side:
        stale = await timer_side.get(Referral, rid)
        assert stale is not None
        async with db.session() as request_side:
            fresh = await request_side.get(Referral, rid)
            assert fresh is not None
            await referrals.act(request_side, fresh, "accept", {}, who=RECEIVER, deps=deps)
        with pytest.raises(ApiError):
            await referrals.apply_action(
                timer_side,
                stale,
                "expire",
                actor="system",
                actor_member=None,
                deps=deps,
                system=True,
            )
    row, steps, events = await history(db, rid)
    assert row.status == "accepted" and steps == ["accept"]
    assert events == ["fr.relais.referral.accepted.v1"]


async def test_a_cancel_and_an_accept_in_sequence_both_apply(db: Database) -> None:
    """The guard refuses only stale reads: fresh ones move on as usual."""
    clock = ManualClock()
    deps = deps_for(clock)
    rid = await a_sent_referral(db, clock)
    async with db.session() as session:
        referral = await session.get(Referral, rid)
        assert referral is not None
        await referrals.act(session, referral, "accept", {}, who=RECEIVER, deps=deps)
        await referrals.assign(session, referral, "usr_1", who=RECEIVER, deps=deps)
        await referrals.act(session, referral, "cancel", {}, who=SENDER, deps=deps)
    row, steps, _ = await history(db, rid)
    assert (row.status, row.version) == ("cancelled", 4)
    assert steps == ["accept", "assign", "cancel"]
