"""`GET /v1/indicators`: sums of the coarsest rollup level that answers the question."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.evaluation.domain import Scope
from services.evaluation.handlers.store import FACT_FIELDS, current_generation
from services.evaluation.models import ROLLUP_MODELS, ReferralFactRow, SearchStat
from services.evaluation.projections.facts import ReferralFact
from services.evaluation.projections.figures import add, figures, zero
from services.evaluation.projections.rollups import INDEX, LEVEL_DIMENSIONS, LEVELS, METRICS, vector
from services.kit.db import table_of

FACTS = table_of(ReferralFactRow)
SEARCHES = table_of(SearchStat)
TOTAL = "__total__"


@dataclass(frozen=True)
class IndicatorQuery:
    member: str | None = None
    network: str | None = None
    departement: str | None = None
    epci: str | None = None
    from_month: str | None = None
    to_month: str | None = None
    stage: str | None = None
    group_by: str | None = None

    def dimensions(self, scope: Scope) -> set[str]:
        needed = {
            name
            for name, value in (
                ("member_id", self.member),
                ("departement", self.departement),
                ("epci", self.epci),
                ("stage", self.stage),
            )
            if value is not None
        }
        if scope.networks is not None or self.network is not None:
            needed.add("network_id")
        if self.group_by:
            needed.add(_column(self.group_by))
        return needed


def _column(group: str) -> str:
    return {"member": "member_id", "network": "network_id"}.get(group, group)


def level_for(query: IndicatorQuery, scope: Scope) -> str | None:
    """The coarsest rollup level with every dimension asked for; None: sum the facts."""
    needed = query.dimensions(scope)
    return next((level for level in LEVELS if needed <= set(LEVEL_DIMENSIONS[level])), None)


def _filters(table: Table, query: IndicatorQuery, scope: Scope, *, member_col: str) -> list[Any]:
    c = table.c
    where: list[Any] = []
    if query.member is not None:
        where.append(c[member_col] == query.member)
    if scope.networks is not None:
        where.append(c.network_id.in_(sorted(scope.networks)))
    for name in ("departement", "epci", "stage"):
        value = getattr(query, name)
        if value is not None:
            where.append(c[name] == value)
    if query.from_month:
        where.append(c.month >= query.from_month)
    if query.to_month:
        where.append(c.month <= query.to_month)
    return where


async def _recently_waiting(
    session: AsyncSession, generation: int, query: IndicatorQuery, scope: Scope, cutoff: datetime
) -> dict[str, int]:
    """Accepted and still waiting to start, but for less than the stuck delay: per group.

    The rollups count every waiting referral (`waiting`); stuck = waiting - these, which an
    index range over the last few weeks' acceptances finds without scanning the old ones."""
    group = None
    if query.group_by:
        name = "receiver_member_id" if query.group_by == "member" else _column(query.group_by)
        group = FACTS.c[name]
    where: list[ColumnElement[bool]] = [
        FACTS.c.generation == generation,
        FACTS.c.waiting_since >= cutoff,
        *_filters(FACTS, query, scope, member_col="receiver_member_id"),
    ]
    stmt = select(*([group] if group is not None else []), func.count()).where(and_(*where))
    if group is not None:
        stmt = stmt.group_by(group)
    rows = (await (await session.connection()).execute(stmt)).all()
    if group is None:
        return {TOTAL: int(rows[0][0]) if rows else 0}
    return {str(row[0]): int(row[1]) for row in rows}


async def _searches(
    session: AsyncSession, query: IndicatorQuery
) -> dict[str, tuple[int, int]] | None:
    """Searches and searches with no match (public, not per member or network)."""
    if query.member is not None or query.group_by in ("member", "network"):
        return None
    c = SEARCHES.c
    where: list[Any] = []
    for name in ("departement", "epci", "stage"):
        value = getattr(query, name)
        if value is not None:
            where.append(c[name] == value)
    if query.from_month:
        where.append(c.month >= query.from_month)
    if query.to_month:
        where.append(c.month <= query.to_month)
    group = c[query.group_by] if query.group_by else None
    stmt = select(
        *([group] if group is not None else []),
        func.coalesce(func.sum(c.searches), 0),
        func.coalesce(func.sum(c.searches_without_result), 0),
    )
    if where:
        stmt = stmt.where(and_(*where))
    if group is not None:
        stmt = stmt.group_by(group)
    rows = (await (await session.connection()).execute(stmt)).all()
    if group is None:
        return {TOTAL: (int(rows[0][0]), int(rows[0][1]))}
    return {str(row[0]): (int(row[1]), int(row[2])) for row in rows}


Sums = tuple[dict[str, list[int]], dict[str, int]]


async def _from_rollups(
    session: AsyncSession, generation: int, level: str, query: IndicatorQuery, scope: Scope
) -> Sums:
    """(receiver-side counters, referrals sent) per group, from one rollup level."""
    table = table_of(ROLLUP_MODELS[level])
    has_role = level == "member"
    group = table.c[_column(query.group_by)] if query.group_by else None
    keys = [*([group] if group is not None else []), *([table.c.role] if has_role else [])]
    stmt = select(*keys, *[func.sum(table.c[m]) for m in METRICS]).where(
        table.c.generation == generation, *_filters(table, query, scope, member_col="member_id")
    )
    if keys:
        stmt = stmt.group_by(*keys)
    received: dict[str, list[int]] = {}
    sent: dict[str, int] = {}
    for row in (await (await session.connection()).execute(stmt)).all():
        name = str(row[0]) if group is not None else TOTAL
        role = row[len(keys) - 1] if has_role else "both"
        sums = row[len(keys) :]
        if role in ("sender", "both"):
            sent[name] = sent.get(name, 0) + int(sums[INDEX["referrals"]] or 0)
        if role in ("receiver", "both"):
            add(received.setdefault(name, zero()), sums)
    return received, sent


async def _from_facts(
    session: AsyncSession, generation: int, query: IndicatorQuery, scope: Scope
) -> Sums:
    """The same sums from the facts (questions no rollup level answers, e.g. a member in
    one EPCI); the member filter keeps this to one member's referrals."""
    where: list[Any] = [FACTS.c.generation == generation, FACTS.c.sent_at.is_not(None)]
    unfiltered = IndicatorQuery(**{**asdict(query), "member": None})
    where += _filters(FACTS, unfiltered, scope, member_col="receiver_member_id")
    conn = await session.connection()
    if query.member is not None:  # one indexed query per side (an OR would scan the table)
        rows: list[Any] = []
        for side in (FACTS.c.sender_member_id, FACTS.c.receiver_member_id):
            rows += (
                (await conn.execute(select(FACTS).where(*where, side == query.member)))
                .mappings()
                .all()
            )
        rows = list({row["referral_id"]: row for row in rows}.values())
    else:
        rows = list((await conn.execute(select(FACTS).where(*where))).mappings().all())
    received: dict[str, list[int]] = {}
    sent: dict[str, int] = {}
    for row in rows:
        fact = ReferralFact(**{name: row[name] for name in FACT_FIELDS})
        v = vector(fact)
        if v is None:
            continue
        for role, member in (
            ("sender", fact.sender_member_id),
            ("receiver", fact.receiver_member_id),
        ):
            if query.member is not None and member != query.member:
                continue
            name = _group_value(fact, query.group_by, member)
            if role == "sender":
                sent[name] = sent.get(name, 0) + 1
            else:
                add(received.setdefault(name, zero()), v)
    return received, sent


def _group_value(fact: ReferralFact, group_by: str | None, member: str) -> str:
    if group_by is None:
        return TOTAL
    if group_by == "member":
        return member
    return str(getattr(fact, _column(group_by)))


async def indicators(
    session: AsyncSession,
    query: IndicatorQuery,
    scope: Scope,
    *,
    now: datetime,
    stuck_after_days: int,
) -> dict[str, Any]:
    generation = await current_generation(session)
    level = level_for(query, scope)
    if level is None:
        received, sent = await _from_facts(session, generation, query, scope)
    else:
        received, sent = await _from_rollups(session, generation, level, query, scope)
    recent = await _recently_waiting(
        session, generation, query, scope, now - timedelta(days=stuck_after_days)
    )

    def stuck_of(sums: list[int], name: str | None) -> int:
        waiting = int(sums[INDEX["waiting"]])
        return waiting - (sum(recent.values()) if name is None else recent.get(name, 0))

    searches = await _searches(session, query)

    def figures_of(name: str) -> dict[str, Any]:
        sums = received.get(name, zero())
        out = figures(sums, sent.get(name, 0), stuck=stuck_of(sums, name))
        if searches is not None:
            found = searches.get(name, (0, 0))
            out["unmet_demand"]["searches"] = found[0]
            out["unmet_demand"]["searches_without_result"] = found[1]
        return out

    total_received = zero()
    for v in received.values():
        add(total_received, v)
    totals = figures(total_received, sum(sent.values()), stuck=stuck_of(total_received, None))
    if searches is not None:
        totals["unmet_demand"]["searches"] = sum(s[0] for s in searches.values())
        totals["unmet_demand"]["searches_without_result"] = sum(s[1] for s in searches.values())
    body: dict[str, Any] = {
        "generation": generation,
        "level": level or "facts",
        "filters": {k: v for k, v in asdict(query).items() if v is not None},
        "totals": totals,
        "referrals_sent": totals["referrals_sent"],
    }
    if query.group_by:
        names = sorted(set(received) | set(sent) | set(searches or {}))
        body["groups"] = [{query.group_by: name, **figures_of(name)} for name in names]
    if query.group_by == "member":
        body["by_member"] = [
            {
                "member_id": g["member"],
                "sent": g["referrals_sent"],
                "received": g["referrals_received"],
            }
            for g in body["groups"]
        ]
    elif query.member is not None:
        body["by_member"] = await _counterparts(
            session,
            generation,
            query,
            scope,
            totals["referrals_sent"],
            totals["referrals_received"],
        )
    return body


async def _counterparts(
    session: AsyncSession,
    generation: int,
    query: IndicatorQuery,
    scope: Scope,
    sent: int,
    received: int,
) -> list[dict[str, Any]]:
    """The member's own counts, then its counterparts' over the referrals it is party to
    (what it sent them, they received; what they sent it): a member sees those referrals."""
    assert query.member is not None
    others = IndicatorQuery(**{**asdict(query), "member": None, "group_by": None})
    where = [
        FACTS.c.generation == generation,
        FACTS.c.sent_at.is_not(None),
        *_filters(FACTS, others, scope, member_col="receiver_member_id"),
    ]
    conn = await session.connection()
    counts: dict[str, dict[str, int]] = {}
    for mine, theirs, role in (
        (FACTS.c.sender_member_id, FACTS.c.receiver_member_id, "received"),
        (FACTS.c.receiver_member_id, FACTS.c.sender_member_id, "sent"),
    ):
        stmt = (
            select(theirs, func.count())
            .where(*where, mine == query.member, theirs != query.member)
            .group_by(theirs)
        )
        for member_id, n in (await conn.execute(stmt)).all():
            counts.setdefault(member_id, {"sent": 0, "received": 0})[role] += int(n)
    own = {"member_id": query.member, "sent": sent, "received": received}
    return [own, *({"member_id": m, **c} for m, c in sorted(counts.items()))]
