"""Reports: the Starter ESS report for the Région (per operator and period), the network report.

The evaluation scores come from the grid slice (`services.evaluation.grid`): the report takes
`journey_evaluations` and `survival` as arguments (the API wires the grid's functions), so it
reads the grid's source tables only through that seam.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.evaluation.domain import Scope, deny, may_read_member
from services.evaluation.handlers.indicators import IndicatorQuery, indicators
from services.evaluation.handlers.store import current_generation, fact_of
from services.evaluation.models import KnownMember, ReferralFactRow
from services.kit.errors import ApiError


class Dumpable(Protocol):
    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


JourneyEvaluations = Callable[[AsyncSession, Collection[str]], Awaitable[Mapping[str, Dumpable]]]
Survival = Callable[..., Awaitable[Dumpable]]


async def _member_networks(session: AsyncSession, generation: int, member_id: str) -> set[str]:
    known = await session.get(KnownMember, member_id)
    networks = set(known.network_ids) if known else set()
    found = await session.exec(
        select(ReferralFactRow.network_id)
        .where(
            ReferralFactRow.generation == generation,
            ReferralFactRow.receiver_member_id == member_id,
        )
        .distinct()
    )
    return networks | {n for n in found.all() if n}


def _average_change(journeys: list[dict[str, Any]]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for journey in journeys:
        for dimension, value in (journey.get("change") or {}).items():
            if value is not None:
                sums.setdefault(dimension, []).append(float(value))
    return {d: round(sum(v) / len(v), 4) for d, v in sorted(sums.items())}


async def starter_ess(
    session: AsyncSession,
    scope: Scope,
    *,
    member: str,
    from_month: str | None,
    to_month: str | None,
    now: datetime,
    stuck_after_days: int,
    journey_evaluations: JourneyEvaluations,
    survival: Survival | None = None,
) -> dict[str, Any]:
    """The accompaniments a Starter ESS operator ran over the period, with their evaluations."""
    generation = await current_generation(session)
    if not may_read_member(scope, member, await _member_networks(session, generation, member)):
        raise deny("ce rapport est lu par la structure, l'opérateur de son réseau et son financeur")
    known = await session.get(KnownMember, member)
    query = IndicatorQuery(member=member, from_month=from_month, to_month=to_month)
    by_stage = await indicators(
        session,
        IndicatorQuery(member=member, from_month=from_month, to_month=to_month, group_by="stage"),
        Scope(),
        now=now,
        stuck_after_days=stuck_after_days,
    )
    totals = await indicators(session, query, Scope(), now=now, stuck_after_days=stuck_after_days)
    stmt = select(ReferralFactRow).where(
        ReferralFactRow.generation == generation,
        ReferralFactRow.receiver_member_id == member,
        col(ReferralFactRow.accepted_at).is_not(None),
    )
    if from_month:
        stmt = stmt.where(ReferralFactRow.month >= from_month)
    if to_month:
        stmt = stmt.where(ReferralFactRow.month <= to_month)
    rows = (await session.exec(stmt.order_by(col(ReferralFactRow.sent_at)))).all()
    evaluated = await journey_evaluations(session, sorted({r.project_id for r in rows}))
    journeys = {pid: e.model_dump(mode="json") for pid, e in evaluated.items()}
    accompaniments = []
    for row in rows:
        fact = fact_of(row)
        journey = journeys.get(fact.project_id)
        entry = (journey or {}).get("entry") or None
        exit_ = (journey or {}).get("exit") or None
        accompaniments.append(
            {
                "referral_id": fact.referral_id,
                "project_id": fact.project_id,
                "stage": fact.stage,
                "month": fact.month,
                "departement": fact.departement,
                "epci": fact.epci,
                "status": fact.status,
                "outcome": fact.outcome or None,
                "jobs_created": fact.jobs_created if fact.status == "completed" else 0,
                "entry": entry,
                "exit": exit_,
                "change": (journey or {}).get("change") or {},
            }
        )
    both = [j for j in journeys.values() if j.get("entry") and j.get("exit")]
    body: dict[str, Any] = {
        "report": "starter-ess",
        "member_id": member,
        "member_name": known.name if known else None,
        "schemes": known.schemes if known else [],
        "period": {"from": from_month, "to": to_month},
        "generation": generation,
        "totals": totals["totals"],
        "by_stage": by_stage.get("groups", []),
        "accompaniments": accompaniments,
        "evaluations": {
            "journeys_evaluated": len(journeys),
            "with_entry_and_exit": len(both),
            "average_change": _average_change(both),
        },
    }
    if survival is not None:
        body["survival"] = (await survival(session, member_ids=[member])).model_dump(mode="json")
    return body


async def network_report(
    session: AsyncSession,
    scope: Scope,
    *,
    network: str,
    from_month: str | None,
    to_month: str | None,
    now: datetime,
    stuck_after_days: int,
    survival: Survival | None = None,
) -> dict[str, Any]:
    """A network's figures for its operator: totals, per member, per département, per stage."""
    if not (scope.everything or (scope.networks is not None and network in scope.networks)):
        raise deny("ce rapport est réservé à l'opérateur et au financeur du réseau")
    if from_month and to_month and from_month > to_month:
        raise ApiError(422, "validation", summary="from est après to")
    mine = Scope(networks=frozenset({network}))

    async def grouped(group: str | None) -> dict[str, Any]:
        return await indicators(
            session,
            IndicatorQuery(from_month=from_month, to_month=to_month, group_by=group),
            mine,
            now=now,
            stuck_after_days=stuck_after_days,
        )

    totals = await grouped(None)
    body: dict[str, Any] = {
        "report": "network",
        "network_id": network,
        "period": {"from": from_month, "to": to_month},
        "generation": totals["generation"],
        "totals": totals["totals"],
        "by_member": (await grouped("member"))["groups"],
        "by_departement": (await grouped("departement"))["groups"],
        "by_stage": (await grouped("stage"))["groups"],
    }
    if survival is not None:
        body["survival"] = (await survival(session, network_id=network)).model_dump(mode="json")
    return body
