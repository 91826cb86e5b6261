"""Load and save the projector's facts and rollups in the current generation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.evaluation.models import (
    ROLLUP_MODELS,
    ArchivedEvent,
    KnownMember,
    ProjectionState,
    ReferralFactRow,
    SearchStat,
)
from services.evaluation.projections.facts import (
    MEMBER_TYPES,
    SEARCH_TYPE,
    TRANSITIONS,
    MemberFact,
    ReferralFact,
    SearchFact,
    TerritoryOf,
    fold_member,
    fold_referral,
    search_fact,
)
from services.evaluation.projections.rollups import LEVEL_DIMENSIONS, METRICS, Key, Vector, deltas

STATE = "indicators"
FACT_FIELDS = tuple(f.name for f in dataclasses.fields(ReferralFact))
MEMBER_FIELDS = tuple(f.name for f in dataclasses.fields(MemberFact))
SEARCH_FIELDS = tuple(f.name for f in dataclasses.fields(SearchFact))


async def current_generation(session: AsyncSession, *, share_lock: bool = False) -> int:
    """The generation readers use. `share_lock`: hold a rebuild's swap off until commit."""
    stmt = select(ProjectionState).where(ProjectionState.name == STATE)
    if share_lock:
        stmt = stmt.with_for_update(read=True)  # FOR SHARE on PostgreSQL; nothing on SQLite
    state = (await session.exec(stmt)).first()
    return state.generation if state else 1


async def ensure_state(session: AsyncSession) -> ProjectionState:
    state = await session.get(ProjectionState, STATE)
    if state is None:
        state = ProjectionState(name=STATE, generation=1)
        session.add(state)
        await session.flush()
    return state


def fact_row(fact: ReferralFact, generation: int) -> dict[str, Any]:
    row = {name: getattr(fact, name) for name in FACT_FIELDS}
    row["generation"] = generation
    row["waiting_since"] = fact.waiting_since
    return row


def fact_of(row: ReferralFactRow) -> ReferralFact:
    return ReferralFact(**{name: getattr(row, name) for name in FACT_FIELDS})


def member_row(fact: MemberFact) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in MEMBER_FIELDS}


def member_of(row: KnownMember) -> MemberFact:
    return MemberFact(**{name: getattr(row, name) for name in MEMBER_FIELDS})


def search_row(fact: SearchFact) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in SEARCH_FIELDS}


async def is_archived(session: AsyncSession, event_id: str) -> bool:
    found = await session.exec(select(ArchivedEvent.seq).where(col(ArchivedEvent.id) == event_id))
    return found.first() is not None


async def archive(
    session: AsyncSession,
    event_id: str,
    type_name: str,
    key: str | None,
    time: datetime,
    data: dict[str, Any],
) -> None:
    """Keep the event for rebuilds (once, even if it is handed to us twice)."""
    if not await is_archived(session, event_id):
        session.add(ArchivedEvent(id=event_id, type=type_name, key=key, time=time, data=data))


async def apply_deltas(
    session: AsyncSession, generation: int, moves: Mapping[tuple[str, Key], Vector]
) -> None:
    for (level, key), delta in moves.items():
        model = ROLLUP_MODELS[level]
        row = await session.get(model, (generation, *key))
        if row is None:
            values: dict[str, Any] = dict(zip(LEVEL_DIMENSIONS[level], key, strict=True))
            row = model.model_validate({"generation": generation, **values})
        for name, x in zip(METRICS, delta, strict=True):
            if x:
                setattr(row, name, getattr(row, name) + x)
        session.add(row)


async def fold_event(
    session: AsyncSession,
    generation: int,
    event_id: str,
    type_name: str,
    time: datetime,
    data: Mapping[str, Any],
    territory_of: TerritoryOf,
) -> bool:
    """Fold one event into the stored facts and rollups of `generation`; True if it changed."""
    if type_name in TRANSITIONS:
        stored = await session.get(ReferralFactRow, (generation, data["referral_id"]))
        before = fact_of(stored) if stored else None
        after = fold_referral(
            dataclasses.replace(before) if before else None, type_name, time, data, territory_of
        )
        if after == before:
            return False
        values = fact_row(after, generation)
        if stored is None:
            stored = ReferralFactRow(**values)
        else:
            for name, value in values.items():
                setattr(stored, name, value)
        session.add(stored)
        await apply_deltas(session, generation, deltas(before, after))
        return True
    if type_name in MEMBER_TYPES:
        known = await session.get(KnownMember, data["member_id"])
        before_member = member_of(known) if known else None
        folded = fold_member(
            dataclasses.replace(before_member) if before_member else None, event_id, time, data
        )
        if folded == before_member:
            return False
        known = known or KnownMember(member_id=folded.member_id)
        for name, value in member_row(folded).items():
            setattr(known, name, value)
        session.add(known)
        return True
    if type_name == SEARCH_TYPE:
        fact = search_fact(data, territory_of)
        existing = await session.get(SearchStat, fact.key)
        stat = existing or SearchStat(**search_row(fact))
        for name, value in search_row(fact).items():
            setattr(stat, name, value)
        session.add(stat)
        return True
    return False
