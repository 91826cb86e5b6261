"""Evaluation use cases: archive and project consumed events (inbox makes them idempotent)."""

from __future__ import annotations

import logging

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.referral import ReferralSent
from services.evaluation import domain
from services.evaluation.models import (
    ArchivedEvent,
    IndicatorSummary,
    MemberReferralCount,
    MemberReferralCountPublic,
)
from services.kit.consumer import HandlerContext

log = logging.getLogger("relais.evaluation")


def archive(ctx: HandlerContext) -> None:
    envelope = ctx.envelope
    ctx.session.add(
        ArchivedEvent(
            id=envelope.id,
            type=envelope.type,
            key=envelope.key,
            time=envelope.time,
            data=envelope.data,
        )
    )


async def on_referral_sent(evt: ReferralSent, ctx: HandlerContext) -> None:
    archive(ctx)
    for member_id, (sent, received) in domain.referral_counter_deltas(evt).items():
        row = await ctx.session.get(MemberReferralCount, member_id) or MemberReferralCount(
            member_id=member_id
        )
        row.sent += sent
        row.received += received
        ctx.session.add(row)
    log.info(
        "referral %s counted for %s -> %s",
        evt.referral_id,
        evt.sender_member_id,
        evt.receiver_member_id,
    )


async def indicator_summary(session: AsyncSession) -> IndicatorSummary:
    rows = (
        await session.exec(select(MemberReferralCount).order_by(col(MemberReferralCount.member_id)))
    ).all()
    total = (await session.exec(select(func.coalesce(func.sum(MemberReferralCount.sent), 0)))).one()
    return IndicatorSummary(
        referrals_sent=int(total),
        by_member=[MemberReferralCountPublic.model_validate(r) for r in rows],
    )
