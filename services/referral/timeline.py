"""The journey's timeline: every referral and transition of a project, in order, as a graph."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.referral.models import KnownMember, Referral, TransitionRecord


async def timeline(session: AsyncSession, project_id: str) -> dict[str, Any]:
    referrals = (
        await session.exec(
            select(Referral)
            .where(Referral.project_id == project_id)
            .order_by(col(Referral.sent_at), col(Referral.id))
        )
    ).all()
    steps = (
        await session.exec(
            select(TransitionRecord)
            .where(TransitionRecord.project_id == project_id)
            .order_by(col(TransitionRecord.at), col(TransitionRecord.id))
        )
    ).all()
    names = {m.id: m.name for m in (await session.exec(select(KnownMember))).all()}
    return {
        "project_id": project_id,
        "referrals": [
            {
                "id": r.id,
                "from": r.sender_member_id,
                "from_name": names.get(r.sender_member_id),
                "to": r.receiver_member_id,
                "to_name": names.get(r.receiver_member_id),
                "status": r.status,
                "sent_at": r.sent_at,
                "redirected_from": r.redirected_from,
                "redirected_to": r.redirected_to,
            }
            for r in referrals
        ],
        "edges": [{"from": r.redirected_from, "to": r.id} for r in referrals if r.redirected_from]
        + _chain_edges(list(referrals), list(steps)),
        "events": [
            {
                "at": s.at,
                "referral_id": s.referral_id,
                "action": s.action,
                "from_status": s.from_status,
                "to_status": s.to_status,
                "actor": s.actor,
                "member_id": s.actor_member_id,
                "member_name": names.get(s.actor_member_id or ""),
                "details": s.details,
            }
            for s in steps
        ],
    }


def _chain_edges(referrals: list[Referral], steps: list[TransitionRecord]) -> list[dict[str, str]]:
    """A referral sent by the member that received an earlier one continues that chain: the
    latest one it had accepted by then (what let it orient onward), else the latest received."""
    accepted_at: dict[str, Any] = {}
    for step in steps:
        if step.action == "accept":
            accepted_at.setdefault(step.referral_id, step.at)
    edges = []
    for later in referrals:
        if later.redirected_from:
            continue
        earlier = [
            r
            for r in referrals
            if r.receiver_member_id == later.sender_member_id
            and r.sent_at <= later.sent_at
            and r.id != later.id
        ]
        reached = [r for r in earlier if r.id in accepted_at and accepted_at[r.id] <= later.sent_at]
        if reached or earlier:
            edges.append({"from": (reached or earlier)[-1].id, "to": later.id})
    return edges
