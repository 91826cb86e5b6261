"""Referral use cases: session, emit and clock injected."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.directory import MemberRegistered, MemberSuspended, MemberUpdated
from contracts.events.referral import ReferralSent
from services.kit.clock import Clock
from services.kit.consumer import HandlerContext
from services.referral import domain
from services.referral.models import KnownMember, Referral, ReferralCreate, new_id

log = logging.getLogger("relais.referral")
Emit = Callable[[AsyncSession, Event], CloudEvent]


async def send_referral(
    session: AsyncSession, data: ReferralCreate, *, sender_member_id: str, emit: Emit, clock: Clock
) -> Referral:
    receiver = await session.get(KnownMember, data.receiver_member_id)
    domain.check_can_send(
        sender_member_id,
        data.receiver_member_id,
        receiver is not None,
        receiver.status if receiver else None,
    )
    referral = Referral(
        project_id=new_id("prj"),
        sender_member_id=sender_member_id,
        receiver_member_id=data.receiver_member_id,
        offer_id=data.offer_id,
        stage=data.project.stage,
        commune=data.project.commune,
        themes=data.project.themes,
        created_at=clock.now(),
    )
    session.add(referral)
    emit(
        session,
        ReferralSent(
            project_id=referral.project_id,
            referral_id=referral.id,
            sender_member_id=sender_member_id,
            receiver_member_id=referral.receiver_member_id,
            offer_id=referral.offer_id,
            stage=referral.stage,
            commune=referral.commune,
            themes=referral.themes,
        ),
    )
    await session.commit()
    log.info(
        "referral %s sent by %s to %s (project %s)",
        referral.id,
        sender_member_id,
        referral.receiver_member_id,
        referral.project_id,
    )
    return referral


async def on_member_registered(evt: MemberRegistered, ctx: HandlerContext) -> None:
    await ctx.session.merge(
        KnownMember(id=evt.member_id, name=evt.name, status=evt.status, network_ids=evt.network_ids)
    )


async def on_member_updated(evt: MemberUpdated, ctx: HandlerContext) -> None:
    member = await ctx.session.get(KnownMember, evt.member_id)
    if member is not None:
        member.name, member.network_ids = evt.name, evt.network_ids
        ctx.session.add(member)


async def on_member_suspended(evt: MemberSuspended, ctx: HandlerContext) -> None:
    member = await ctx.session.get(KnownMember, evt.member_id)
    if member is not None:
        member.status = "suspended"
        ctx.session.add(member)
