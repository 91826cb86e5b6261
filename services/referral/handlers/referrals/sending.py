"""Sending a referral: who may orient, consent, policies, the escalation timers."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events import referral as ev
from services.kit.auth import Principal
from services.kit.clock import add_calendar_days
from services.kit.db import stage_object
from services.kit.errors import ApiError
from services.kit.timers import schedule
from services.referral import domain, policies
from services.referral.handlers.common import Deps, member_of
from services.referral.handlers.projects import SHARING_SCOPE, active_consent
from services.referral.handlers.referrals.conversation import _seal_message
from services.referral.handlers.referrals.steps import EXPIRY_TIMER, REMINDER_TIMER, _ids, _record
from services.referral.models import (
    KnownMember,
    Project,
    Referral,
    ReferralCreate,
)

log = logging.getLogger("relais.referral")

# Built once: composing a statement costs more than running it on this hot path.
_BOTH_MEMBERS = select(KnownMember).where(col(KnownMember.id).in_(bindparam("ids", expanding=True)))


async def send_referral(
    session: AsyncSession,
    data: ReferralCreate,
    *,
    who: Principal,
    deps: Deps,
    redirected_from: Referral | None = None,
    commit: bool = True,
) -> Referral:
    sender = member_of(who)
    project = await session.get(Project, data.project_id)
    if project is None or project.erased_at is not None:
        raise ApiError(404, "not_found", what="Projet", id=data.project_id)
    if redirected_from is None and not await may_orient(session, project, sender):
        raise ApiError(404, "not_found", what="Projet", id=data.project_id)
    if data.receiver_member_id == sender:
        raise ApiError(422, "referral.self")
    # Both ends of the referral in one query: the receiver is checked, the sender's networks
    # name the network the referral belongs to.
    found = await session.exec(_BOTH_MEMBERS, params={"ids": [sender, data.receiver_member_id]})
    known = {m.id: m for m in found}
    receiver = known.get(data.receiver_member_id)
    if receiver is None:
        raise ApiError(422, "member.unknown", id=data.receiver_member_id)
    if receiver.status != "active":
        raise ApiError(409, "conflict", reason="la structure destinataire est suspendue")
    if await active_consent(session, project.id, SHARING_SCOPE) is None:
        raise ApiError(422, "consent.missing")
    warnings = await policies.check_send(
        session, project, receiver, data.offer_id, now=deps.clock.now()
    )
    now = deps.clock.now()
    sender_member = known.get(sender)
    network = domain.referral_network(
        sender_member.network_ids if sender_member else [], receiver.network_ids
    )
    referral = Referral(
        project_id=project.id,
        sender_member_id=sender,
        receiver_member_id=receiver.id,
        offer_id=data.offer_id,
        network_id=network,
        stage=project.stage,
        commune=project.commune,
        warnings=warnings,
        redirected_from=redirected_from.id if redirected_from else None,
        sent_at=now,
        updated_at=now,
    )
    stage_object(session, referral)  # a Core row: the referral is new, nothing to track
    if data.message:
        await _seal_message(session, referral, data.message, who=who, deps=deps)
    _record(
        session,
        referral,
        "send",
        None,
        actor=who.subject,
        actor_member=sender,
        deps=deps,
        details={"redirected_from": referral.redirected_from, "warnings": warnings},
    )
    deps.emit(
        session,
        ev.ReferralSent(
            **_ids(referral),
            offer_id=referral.offer_id,
            network_id=referral.network_id,
            stage=project.stage,
            commune=project.commune,
            themes=project.themes,
            redirected_from=referral.redirected_from,
            actor=who.subject,
        ),
    )
    policy = deps.settings.policy_for(referral.network_id)
    await schedule(
        session,
        kind=REMINDER_TIMER,
        key=referral.id,
        due_at=add_calendar_days(now, policy.reminder_days),
        payload={"referral_id": referral.id},
        new_key=True,
    )
    await schedule(
        session,
        kind=EXPIRY_TIMER,
        key=referral.id,
        due_at=add_calendar_days(now, policy.expiry_days),
        payload={"referral_id": referral.id},
        new_key=True,
    )
    if commit:
        await session.commit()
    log.info(
        "referral %s sent by %s to %s (project %s)", referral.id, sender, receiver.id, project.id
    )
    return referral


CHAIN_STATUSES = ("accepted", "in_progress", "on_hold", "completed")


async def may_orient(session: AsyncSession, project: Project, member_id: str) -> bool:
    """The owner, or a member the journey reached (it accepted a referral), orients onward."""
    if project.owner_member_id == member_id:
        return True
    reached = await session.exec(
        select(Referral.id).where(
            Referral.project_id == project.id,
            Referral.receiver_member_id == member_id,
            col(Referral.status).in_(CHAIN_STATUSES),
        )
    )
    return reached.first() is not None
