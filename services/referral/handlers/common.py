"""What the referral use cases share: their collaborators, the actor, access to referrals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError
from services.referral.crypto import Vault
from services.referral.domain import Party
from services.referral.models import Referral
from services.referral.settings import ReferralSettings

Emit = Callable[[AsyncSession, Event], CloudEvent]


@dataclass(frozen=True)
class Deps:
    emit: Emit
    clock: Clock
    vault: Vault
    settings: ReferralSettings


def party_of(who: Principal, referral: Referral) -> Party | None:
    if who.member_id == referral.sender_member_id:
        return Party.sender
    if who.member_id == referral.receiver_member_id:
        return Party.receiver
    return None


def can_see(who: Principal, referral: Referral) -> bool:
    """A member sees the referrals it sent or received; operators see their network's."""
    if party_of(who, referral) is not None or who.has_role("platform_admin"):
        return True
    return who.has_role("network_operator") and referral.network_id in who.network_ids


async def referral_for(session: AsyncSession, referral_id: str, who: Principal) -> Referral:
    """The referral, or the same 404 whether it does not exist or is not yours."""
    referral = await session.get(Referral, referral_id)
    if referral is None or not can_see(who, referral):
        raise ApiError(404, "not_found", what="Orientation", id=referral_id)
    return referral


def member_of(who: Principal) -> str:
    if who.member_id is None:
        raise ApiError(403, "auth.forbidden", reason="seule une structure membre peut faire cela")
    return who.member_id
