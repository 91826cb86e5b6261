"""Who takes part in a journey, learnt from referral events (this slice's own read model), and
the access rule built on it: a member that sent or received a referral of the project reads
its evaluations; operators of the project's networks read them too."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.referral import ReferralAssigned, ReferralSent
from services.evaluation.grid.models import Participant, ReferralAdviser
from services.kit.auth import Principal
from services.kit.consumer import HandlerContext
from services.kit.errors import ApiError

log = logging.getLogger("relais.evaluation")

PORTEUR_SENDER = "porteur"  # a self-referral's sender is a role, not a member
READ_ALL = ("platform_admin",)


async def on_referral_sent(evt: ReferralSent, ctx: HandlerContext) -> None:
    for member_id, role in ((evt.sender_member_id, "sender"), (evt.receiver_member_id, "receiver")):
        if member_id == PORTEUR_SENDER:
            continue
        existing = (
            await ctx.session.exec(
                select(Participant).where(
                    Participant.referral_id == evt.referral_id, Participant.member_id == member_id
                )
            )
        ).first()
        if existing is None:
            ctx.session.add(
                Participant(
                    project_id=evt.project_id,
                    member_id=member_id,
                    referral_id=evt.referral_id,
                    role=role,
                    network_id=evt.network_id,
                )
            )


async def on_referral_assigned(evt: ReferralAssigned, ctx: HandlerContext) -> None:
    row = await ctx.session.get(ReferralAdviser, evt.referral_id)
    if row is None:
        row = ReferralAdviser(referral_id=evt.referral_id, adviser_user_id=evt.adviser_user_id)
    row.adviser_user_id = evt.adviser_user_id
    ctx.session.add(row)


async def participants(session: AsyncSession, project_id: str) -> list[Participant]:
    return list(
        (
            await session.exec(
                select(Participant)
                .where(Participant.project_id == project_id)
                .order_by(col(Participant.id))
            )
        ).all()
    )


def is_participant(rows: list[Participant], member_id: str | None) -> bool:
    return member_id is not None and any(r.member_id == member_id for r in rows)


def operates(rows: list[Participant], principal: Principal) -> bool:
    if principal.has_role(*READ_ALL):
        return True
    networks = {r.network_id for r in rows if r.network_id}
    return principal.has_role("network_operator") and bool(networks & set(principal.network_ids))


async def require_reader(session: AsyncSession, project_id: str, principal: Principal) -> None:
    rows = await participants(session, project_id)
    if is_participant(rows, principal.member_id) or operates(rows, principal):
        return
    raise ApiError(
        403,
        "auth.forbidden",
        reason="seuls les membres ayant orienté ou reçu ce projet et les opérateurs de son "
        "réseau lisent ses évaluations",
    )


async def require_evaluator(session: AsyncSession, project_id: str, principal: Principal) -> str:
    """The member an adviser fills the grid for: their own, if it took part in the journey."""
    rows = await participants(session, project_id)
    if principal.member_id is None or not is_participant(rows, principal.member_id):
        raise ApiError(
            403,
            "auth.forbidden",
            reason="seul un conseiller d'un membre ayant orienté ou reçu ce projet "
            "remplit sa grille",
        )
    return principal.member_id
