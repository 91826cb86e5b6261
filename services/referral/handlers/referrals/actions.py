"""What the parties do: the lifecycle actions with their payloads, and redirects."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.errors import ApiError
from services.referral import domain
from services.referral.domain import Party, Status
from services.referral.handlers.common import Deps, party_of
from services.referral.handlers.referrals.conversation import _seal_message
from services.referral.handlers.referrals.sending import send_referral
from services.referral.handlers.referrals.steps import apply_action
from services.referral.models import (
    Referral,
    ReferralCreate,
)

log = logging.getLogger("relais.referral")


_PAYLOAD_FIELDS = {
    "decline": ("reason",),
    "complete": ("outcome", "jobs_created", "funding_amount_eur"),
    "fail": ("reason",),
}


async def act(
    session: AsyncSession,
    referral: Referral,
    action: str,
    payload: dict[str, Any],
    *,
    who: Principal,
    deps: Deps,
    expected_version: int | None = None,
    commit: bool = True,
) -> Referral:
    """An action by a party (HTTP or a signed Kafka command): checks, moves, commits.

    `commit=False` leaves the commit to the caller's transaction (the command consumer)."""
    party = party_of(who, referral)
    if party is None:
        raise ApiError(403, "auth.forbidden", reason="seuls l'émetteur et le destinataire agissent")
    if expected_version is not None and expected_version != referral.version:
        raise ApiError(412, "precondition", current=referral.version)
    fields: dict[str, Any] = {}
    if action == "decline":
        referral.decline_reason = domain.check_code(
            domain.DECLINE_REASONS, payload.get("reason", ""), "motif"
        )
        fields["reason"] = referral.decline_reason
    elif action == "complete":
        referral.outcome = domain.check_code(
            domain.OUTCOMES, payload.get("outcome", ""), "résultat"
        )
        referral.jobs_created = _count(payload.get("jobs_created"), "jobs_created")
        referral.funding_amount_eur = _count(
            payload.get("funding_amount_eur"), "funding_amount_eur"
        )
        fields = {
            "outcome": referral.outcome,
            "jobs_created": referral.jobs_created,
            "funding_amount_eur": referral.funding_amount_eur,
        }
    elif action == "fail":
        referral.failure_reason = domain.check_code(
            domain.FAILURE_REASONS, payload.get("reason", ""), "motif"
        )
        fields["reason"] = referral.failure_reason
    details = {k: v for k, v in fields.items() if v is not None}
    await apply_action(
        session,
        referral,
        action,
        actor=who.subject,
        actor_member=who.member_id,
        deps=deps,
        details=details,
        party=party,
        event_fields=fields,
    )
    if payload.get("message"):
        await _seal_message(session, referral, str(payload["message"]), who=who, deps=deps)
    if commit:
        await session.commit()
    return referral


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(422, "validation", summary=f"{name} : un entier positif ou nul est attendu")
    return value


async def redirect(
    session: AsyncSession,
    referral: Referral,
    to_member: str,
    *,
    who: Principal,
    deps: Deps,
    offer_id: str | None = None,
    message: str | None = None,
    expected_version: int | None = None,
    commit: bool = True,
) -> Referral:
    """Decline 'réorienté ailleurs' and send a new referral, linked, to a third member."""
    if party_of(who, referral) != Party.receiver:
        raise ApiError(403, "auth.forbidden", reason="seul le destinataire réoriente")
    if expected_version is not None and expected_version != referral.version:
        raise ApiError(412, "precondition", current=referral.version)
    if to_member in (referral.sender_member_id, referral.receiver_member_id):
        raise ApiError(422, "validation", summary="réorientez vers une troisième structure")
    domain.transition(Status(referral.status), "decline", Party.receiver)  # 409 before writing
    new = await send_referral(
        session,
        ReferralCreate(
            project_id=referral.project_id,
            receiver_member_id=to_member,
            offer_id=offer_id,
            message=message,
        ),
        who=who,
        deps=deps,
        redirected_from=referral,
        commit=False,  # the new referral and the decline commit together, or not at all
    )
    referral.decline_reason, referral.redirected_to = "reoriente_ailleurs", new.id
    await apply_action(
        session,
        referral,
        "decline",
        actor=who.subject,
        actor_member=who.member_id,
        deps=deps,
        party=Party.receiver,
        details={"reason": "reoriente_ailleurs", "redirected_to": new.id},
        event_fields={"reason": "reoriente_ailleurs", "redirected_to": new.id},
    )
    if commit:
        await session.commit()
    return new
