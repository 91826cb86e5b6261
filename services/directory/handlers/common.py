"""What every directory use case shares: the emit callable, the actor, member lookups."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from services.directory.models import Member, MemberPublic, Membership, Network
from services.kit.auth import Principal
from services.kit.db import mark_dirty
from services.kit.errors import ApiError

Emit = Callable[[AsyncSession, Event], CloudEvent]
OFFERS_CHANGED = "directory.offers"
"""Commit-wake key: the match index reloads after a commit that changed offers or members."""


def actor_of(who: Principal | None) -> str:
    return who.subject if who is not None else "system"


def offers_changed(session: AsyncSession) -> None:
    mark_dirty(session, OFFERS_CHANGED)


async def get_member(session: AsyncSession, member_id: str) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise ApiError(404, "member.unknown", id=member_id)
    return member


async def networks_of(session: AsyncSession, member_id: str) -> list[str]:
    rows = await session.exec(
        select(Membership.network_id)
        .where(Membership.member_id == member_id)
        .order_by(col(Membership.network_id))
    )
    return list(rows.all())


async def check_networks_exist(session: AsyncSession, network_ids: list[str]) -> None:
    for network_id in network_ids:
        if await session.get(Network, network_id) is None:
            raise ApiError(422, "not_found", what="Réseau", id=network_id)


async def member_public(session: AsyncSession, member: Member) -> MemberPublic:
    return MemberPublic.model_validate(
        member, update={"network_ids": await networks_of(session, member.id)}
    )
