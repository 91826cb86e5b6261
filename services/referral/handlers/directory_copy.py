"""Keep the referral service's copy of members, offers and command keys from `directory.events`."""

from __future__ import annotations

from contracts.events import directory as d
from services.kit.consumer import HandlerContext
from services.referral.models import CommandKeyCopy, KnownMember, KnownOffer


async def on_member_registered(evt: d.MemberRegistered, ctx: HandlerContext) -> None:
    await ctx.session.merge(
        KnownMember(
            id=evt.member_id,
            name=evt.name,
            status=evt.status,
            network_ids=evt.network_ids,
            schemes=evt.schemes,
            commune=evt.commune,
        )
    )


async def on_member_updated(evt: d.MemberUpdated, ctx: HandlerContext) -> None:
    member = await ctx.session.get(KnownMember, evt.member_id)
    status = member.status if member else "active"
    await ctx.session.merge(
        KnownMember(
            id=evt.member_id,
            name=evt.name,
            status=status,
            network_ids=evt.network_ids,
            schemes=evt.schemes,
            commune=evt.commune,
        )
    )


async def _set_status(member_id: str, status: str, ctx: HandlerContext) -> None:
    member = await ctx.session.get(KnownMember, member_id)
    if member is not None:
        member.status = status
        ctx.session.add(member)


async def on_member_suspended(evt: d.MemberSuspended, ctx: HandlerContext) -> None:
    await _set_status(evt.member_id, "suspended", ctx)


async def on_member_reactivated(evt: d.MemberReactivated, ctx: HandlerContext) -> None:
    await _set_status(evt.member_id, "active", ctx)


async def on_offer_published(evt: d.OfferPublished, ctx: HandlerContext) -> None:
    await ctx.session.merge(
        KnownOffer(
            id=evt.offer_id,
            member_id=evt.member_id,
            title=evt.title,
            kind=evt.kind,
            status="published",
            capacity=evt.capacity,
            stages=evt.stages,
            territories=[t.model_dump(mode="json") for t in evt.territories],
            required_information=evt.required_information,
            max_structure_age_months=evt.max_structure_age_months,
        )
    )


async def on_offer_withdrawn(evt: d.OfferWithdrawn, ctx: HandlerContext) -> None:
    offer = await ctx.session.get(KnownOffer, evt.offer_id)
    if offer is not None:
        offer.status = "withdrawn"
        ctx.session.add(offer)


async def on_offer_capacity_changed(evt: d.OfferCapacityChanged, ctx: HandlerContext) -> None:
    offer = await ctx.session.get(KnownOffer, evt.offer_id)
    if offer is not None:
        offer.capacity = evt.capacity
        ctx.session.add(offer)


async def on_command_key_registered(evt: d.CommandKeyRegistered, ctx: HandlerContext) -> None:
    await ctx.session.merge(
        CommandKeyCopy(id=evt.key_id, member_id=evt.member_id, public_key=evt.public_key)
    )


async def on_command_key_revoked(evt: d.CommandKeyRevoked, ctx: HandlerContext) -> None:
    key = await ctx.session.get(CommandKeyCopy, evt.key_id)
    if key is not None:
        key.revoked = True
        ctx.session.add(key)
