"""One step of the lifecycle: the status move, its record, its event, its timers (no commit)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events import referral as ev
from services.kit.clock import add_calendar_days
from services.kit.db import stage_object
from services.kit.errors import ApiError
from services.kit.timers import TimerRecord, cancel, schedule
from services.referral import domain
from services.referral.domain import Party, Status
from services.referral.handlers.common import Deps
from services.referral.models import (
    Referral,
    TransitionRecord,
)

log = logging.getLogger("relais.referral")


REMINDER_TIMER = "referral.reminder"
EXPIRY_TIMER = "referral.expiry"

_EVENTS: dict[str, type[ev.ReferralEvent]] = {
    "accept": ev.ReferralAccepted,
    "decline": ev.ReferralDeclined,
    "request-info": ev.ReferralInfoRequested,
    "provide-info": ev.ReferralInfoProvided,
    "start": ev.ReferralStarted,
    "hold": ev.ReferralOnHold,
    "resume": ev.ReferralResumed,
    "complete": ev.ReferralCompleted,
    "fail": ev.ReferralFailed,
    "cancel": ev.ReferralCancelled,
    "expire": ev.ReferralExpired,
}


def _ids(referral: Referral) -> dict[str, Any]:
    return {
        "project_id": referral.project_id,
        "referral_id": referral.id,
        "sender_member_id": referral.sender_member_id,
        "receiver_member_id": referral.receiver_member_id,
    }


def _record(
    session: AsyncSession,
    referral: Referral,
    action: str,
    before: str | None,
    *,
    actor: str,
    actor_member: str | None,
    deps: Deps,
    details: dict[str, Any],
) -> None:
    stage_object(  # insert-only: a Core row, no object for the session to track
        session,
        TransitionRecord(
            referral_id=referral.id,
            project_id=referral.project_id,
            action=action,
            from_status=before,
            to_status=referral.status,
            actor=actor,
            actor_member_id=actor_member,
            details=details,
            at=deps.clock.now(),
        ),
    )


async def apply_action(
    session: AsyncSession,
    referral: Referral,
    action: str,
    *,
    actor: str,
    actor_member: str | None,
    deps: Deps,
    details: dict[str, Any] | None = None,
    system: bool = False,
    party: Party | None = None,
    event_fields: dict[str, Any] | None = None,
) -> Referral:
    """Move a referral through the lifecycle (no commit: the caller's transaction)."""
    before = Status(referral.status)
    who_acts = Party.system if system and action == "expire" else party
    if system and action == "cancel":
        who_acts = Party.sender  # consent withdrawal and suspensions cancel on the sender's behalf
    assert who_acts is not None
    after = domain.transition(before, action, who_acts)
    await _claim_version(session, referral)
    now = deps.clock.now()
    referral.status, referral.version, referral.updated_at = after.value, referral.version + 1, now
    if after in domain.TERMINAL:
        referral.closed_at = now
    await _move_timers(session, referral, before, after, deps)
    session.add(referral)
    _record(
        session,
        referral,
        action,
        before.value,
        actor=actor,
        actor_member=actor_member,
        deps=deps,
        details=details or {},
    )
    deps.emit(session, _EVENTS[action](**_ids(referral), **(event_fields or {}), actor=actor))
    log.info("referral %s: %s -> %s (%s)", referral.id, before.value, after.value, action)
    return referral


async def _claim_version(session: AsyncSession, referral: Referral) -> None:
    """Compare-and-set on the version read: of two transitions racing from the same state
    (an accept and a decline, an accept and the expiry), the second finds the row changed and
    is refused, instead of both committing and both publishing their event."""
    claimed = await session.exec(
        update(Referral)  # type: ignore[call-overload]
        .where(col(Referral.id) == referral.id, col(Referral.version) == referral.version)
        .values(version=referral.version + 1)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        raise ApiError(409, "conflict", reason="l'orientation vient de changer : relisez-la")


async def _move_timers(
    session: AsyncSession, referral: Referral, before: Status, after: Status, deps: Deps
) -> None:
    """The expiry clock runs only while the referral waits for an answer in `sent`."""
    now = deps.clock.now()
    if after == Status.info_requested:
        # The pending expiry timer knows when it would fire: after an earlier answer it was
        # moved past `sent_at + expiry_days` by the time the clock stood still.
        pending = (
            await session.exec(
                select(TimerRecord.due_at).where(
                    TimerRecord.kind == EXPIRY_TIMER,
                    TimerRecord.key == referral.id,
                    TimerRecord.state == "pending",
                )
            )
        ).first()
        expiry = pending or add_calendar_days(
            referral.sent_at, deps.settings.policy_for(referral.network_id).expiry_days
        )
        referral.expiry_remaining_seconds = max(0, int((expiry - now).total_seconds()))
    if before == Status.sent:
        await cancel(session, kind=REMINDER_TIMER, key=referral.id)
        await cancel(session, kind=EXPIRY_TIMER, key=referral.id)
    if before == Status.info_requested and after == Status.sent:
        remaining = timedelta(seconds=referral.expiry_remaining_seconds or 0)
        referral.expiry_remaining_seconds = None
        await schedule(
            session,
            kind=EXPIRY_TIMER,
            key=referral.id,
            due_at=now + remaining,
            payload={"referral_id": referral.id},
        )
