"""Referral HTTP API: parse -> handler -> response."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import CurrentPrincipal
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep
from services.referral import handlers
from services.referral.models import Referral, ReferralCreate, ReferralPublic

router = APIRouter(tags=["referral"])


@router.post("/v1/referrals", status_code=201, response_model=ReferralPublic)
async def send_referral(
    body: ReferralCreate, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> Referral:
    if principal.member_id is None:
        raise ApiError(403, "auth.forbidden", reason="seul un membre peut orienter")
    return await handlers.send_referral(
        session, body, sender_member_id=principal.member_id, emit=runtime.emit, clock=runtime.clock
    )


@router.get("/v1/referrals/{referral_id}", response_model=ReferralPublic)
async def get_referral(
    referral_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Referral:
    referral = await session.get(Referral, referral_id)
    # A member sees only the referrals it sent or received: others get the same 404.
    if referral is None or principal.member_id not in (
        referral.sender_member_id,
        referral.receiver_member_id,
    ):
        raise ApiError(404, "not_found", what="Orientation", id=referral_id)
    return referral
