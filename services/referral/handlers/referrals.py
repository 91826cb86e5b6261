"""The referral lifecycle: send, act (accept, decline, ...), redirect, assign, messages."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events import referral as ev
from services.kit.auth import Principal
from services.kit.clock import add_calendar_days
from services.kit.errors import ApiError
from services.kit.timers import TimerRecord, cancel, schedule
from services.referral import domain, policies
from services.referral.domain import Party, Status
from services.referral.handlers.common import Deps, member_of, party_of
from services.referral.handlers.projects import SHARING_SCOPE, active_consent
from services.referral.models import (
    AccessLogEntry,
    KnownMember,
    Message,
    Project,
    ProjectKey,
    Referral,
    ReferralCreate,
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
    session.add(
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
        )
    )


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
    receiver = await session.get(KnownMember, data.receiver_member_id)
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
    sender_member = await session.get(KnownMember, sender)
    shared = set(receiver.network_ids) & set(sender_member.network_ids if sender_member else [])
    referral = Referral(
        project_id=project.id,
        sender_member_id=sender,
        receiver_member_id=receiver.id,
        offer_id=data.offer_id,
        network_id=min(shared)
        if shared
        else (min(receiver.network_ids) if receiver.network_ids else None),
        stage=project.stage,
        commune=project.commune,
        warnings=warnings,
        redirected_from=redirected_from.id if redirected_from else None,
        sent_at=now,
        updated_at=now,
    )
    session.add(referral)
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
    )
    await schedule(
        session,
        kind=EXPIRY_TIMER,
        key=referral.id,
        due_at=add_calendar_days(now, policy.expiry_days),
        payload={"referral_id": referral.id},
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


async def assign(
    session: AsyncSession,
    referral: Referral,
    adviser_user_id: str,
    *,
    who: Principal,
    deps: Deps,
    commit: bool = True,
) -> Referral:
    if party_of(who, referral) != Party.receiver or not who.has_role(
        "member_admin", "adviser", "member_tool"
    ):
        raise ApiError(403, "auth.forbidden", reason="le destinataire attribue l'orientation")
    await _claim_version(session, referral)
    referral.assignee_user_id, referral.version = adviser_user_id, referral.version + 1
    referral.updated_at = deps.clock.now()
    session.add(referral)
    _record(
        session,
        referral,
        "assign",
        referral.status,
        actor=who.subject,
        actor_member=who.member_id,
        deps=deps,
        details={"adviser_user_id": adviser_user_id},
    )
    deps.emit(
        session,
        ev.ReferralAssigned(**_ids(referral), adviser_user_id=adviser_user_id, actor=who.subject),
    )
    if commit:
        await session.commit()
    return referral


async def _seal_message(
    session: AsyncSession, referral: Referral, body: str, *, who: Principal, deps: Deps
) -> Message:
    key_row = await session.get(ProjectKey, referral.project_id)
    if key_row is None:
        raise ApiError(409, "conflict", reason="projet effacé")
    key = deps.vault.project_key(referral.project_id, key_row.sealed_key)
    message = Message(
        referral_id=referral.id,
        project_id=referral.project_id,
        author_member_id=member_of(who),
        author=who.subject,
        sealed_body=deps.vault.seal(key, referral.project_id, {"body": body}),
        at=deps.clock.now(),
    )
    session.add(message)
    deps.emit(
        session,
        ev.ReferralMessagePosted(
            **_ids(referral),
            message_id=message.id,
            author_member_id=message.author_member_id,
            actor=who.subject,
        ),
    )
    return message


async def post_message(
    session: AsyncSession,
    referral: Referral,
    body: str,
    *,
    who: Principal,
    deps: Deps,
    commit: bool = True,
) -> Message:
    if party_of(who, referral) is None:
        raise ApiError(
            403, "auth.forbidden", reason="seuls l'émetteur et le destinataire échangent"
        )
    message = await _seal_message(session, referral, body, who=who, deps=deps)
    if commit:
        await session.commit()
    return message


async def messages_of(
    session: AsyncSession, referral: Referral, deps: Deps, *, reader: str | None = None
) -> list[tuple[Message, str | None]]:
    """The thread, bodies opened with the project key (None once erased); a read by
    `reader` that opened any body is written to the access log."""
    rows = (
        await session.exec(
            select(Message)
            .where(Message.referral_id == referral.id)
            .order_by(col(Message.at), col(Message.id))
        )
    ).all()
    key_row = await session.get(ProjectKey, referral.project_id)
    key = deps.vault.project_key(referral.project_id, key_row.sealed_key) if key_row else None
    thread = [
        (
            m,
            deps.vault.open(key, m.project_id, m.sealed_body)["body"]
            if key and m.sealed_body
            else None,
        )
        for m in rows
    ]
    if reader is not None and any(body is not None for _, body in thread):
        session.add(
            AccessLogEntry(
                project_id=referral.project_id,
                reader=reader,
                purpose="messages",
                at=deps.clock.now(),
            )
        )
        await session.commit()
    return thread
