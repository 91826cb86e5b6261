"""Unanswered referrals: the reminder, the expiry, and the operator's escalation queue."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.referral import ReferralReminderDue
from services.kit.auth import Principal
from services.kit.clock import add_calendar_days, paris_day
from services.kit.errors import ApiError
from services.kit.timers import Fired
from services.referral.domain import OPEN, Status
from services.referral.handlers.common import Deps
from services.referral.handlers.referrals import apply_action
from services.referral.models import KnownMember, Referral


async def on_reminder_due(fired: Fired, deps: Deps) -> None:
    referral = await fired.session.get(Referral, fired.timer.payload["referral_id"])
    if referral is None or referral.status != Status.sent:
        return
    days = (paris_day(fired.clock.now()) - paris_day(referral.sent_at)).days
    deps.emit(
        fired.session,
        ReferralReminderDue(
            project_id=referral.project_id,
            referral_id=referral.id,
            sender_member_id=referral.sender_member_id,
            receiver_member_id=referral.receiver_member_id,
            days_open=days,
            actor="system",
        ),
    )


async def on_expiry_due(fired: Fired, deps: Deps) -> None:
    referral = await fired.session.get(Referral, fired.timer.payload["referral_id"])
    if referral is None or referral.status != Status.sent:
        return
    await apply_action(
        fired.session, referral, "expire", actor="system", actor_member=None, deps=deps, system=True
    )


async def escalations(
    session: AsyncSession, *, who: Principal, deps: Deps
) -> list[dict[str, object]]:
    """Expired, stuck (accepted but not started) and held by a suspended member, per network."""
    if not who.has_role("network_operator", "platform_admin"):
        raise ApiError(403, "auth.forbidden", reason="la file d'escalade est celle des opérateurs")
    query = select(Referral).order_by(col(Referral.updated_at))
    if not who.has_role("platform_admin"):
        query = query.where(col(Referral.network_id).in_(list(who.network_ids)))
    now = deps.clock.now()
    suspended = set(
        (await session.exec(select(KnownMember.id).where(KnownMember.status == "suspended"))).all()
    )
    queue: list[dict[str, object]] = []
    for referral in (await session.exec(query)).all():
        reason = _why(referral, now, suspended, deps)
        if reason:
            queue.append(
                {
                    "referral_id": referral.id,
                    "project_id": referral.project_id,
                    "reason": reason,
                    "status": referral.status,
                    "network_id": referral.network_id,
                    "sender_member_id": referral.sender_member_id,
                    "receiver_member_id": referral.receiver_member_id,
                    "since": referral.updated_at,
                }
            )
    return queue


def _why(referral: Referral, now: datetime, suspended: set[str], deps: Deps) -> str | None:
    if referral.status == Status.expired:
        return "expiree"
    stuck_days = deps.settings.policy_for(referral.network_id).stuck_after_days
    if (
        referral.status == Status.accepted
        and add_calendar_days(referral.updated_at, stuck_days) <= now
    ):
        return "acceptee_sans_demarrage"
    if Status(referral.status) in OPEN and referral.receiver_member_id in suspended:
        return "structure_suspendue"
    return None
