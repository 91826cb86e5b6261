"""The `member-commands` subscription: signed commands from members' tools, run through the
same use cases as HTTP (`act`, `assign`) in the consumer's transaction.

Per record (the kit has already parsed it and skipped an id its inbox has seen):

1. `ce_id` must equal `command_id`, so the inbox dedupes by the signed id;
2. a command id already in `referral_member_command` is acknowledged, nothing re-checked;
3. the signature must verify against one of the member's active keys (`invalid_signature`)
   and `issued_at` must be fresh (`stale_command`): else `DeadLetter`, nothing written;
4. the use case runs in a savepoint as `member:<id>` (role `member_tool`); an `ApiError` 4xx
   rolls the savepoint back and emits `CommandRejected` instead (never retried);
5. the command is recorded (applied or rejected) with the effect, in the same transaction.

The scheme itself is described in `services.referral.commands.signing` and docs/commands.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.envelope import CloudEvent
from contracts.events import commands as c
from contracts.events.referral import CommandRejected
from services.kit.auth import Principal
from services.kit.consumer import DeadLetter, HandlerContext, Subscription
from services.kit.errors import ApiError
from services.kit.i18n import translate
from services.referral.commands import signing
from services.referral.commands.models import MemberCommand
from services.referral.handlers import referrals
from services.referral.handlers.common import Deps, referral_for
from services.referral.models import CommandKeyCopy, KnownMember

log = logging.getLogger("relais.referral.commands")

PURPOSE = "member-commands"
MEMBER_TOOL_ROLE = "member_tool"
DEFAULT_FRESHNESS = timedelta(minutes=15)

# Command -> the lifecycle action of `referrals.act` (the HTTP route's name).
ACTIONS: dict[type[c.ReferralCommand], str] = {
    c.AcceptReferral: "accept",
    c.DeclineReferral: "decline",
    c.RequestReferralInfo: "request-info",
    c.ProvideReferralInfo: "provide-info",
    c.StartReferral: "start",
    c.HoldReferral: "hold",
    c.ResumeReferral: "resume",
    c.CompleteReferral: "complete",
    c.FailReferral: "fail",
    c.CancelReferral: "cancel",
}
_PAYLOAD_FIELDS = {"reason", "outcome", "jobs_created", "funding_amount_eur"}


@dataclass(frozen=True)
class Verified:
    key_id: str
    issued_at: datetime


async def active_keys(session: AsyncSession, member_id: str) -> dict[str, str]:
    """The member's registered, non-revoked public keys (key id -> base64url raw key)."""
    rows = await session.exec(
        select(CommandKeyCopy).where(
            CommandKeyCopy.member_id == member_id,
            CommandKeyCopy.revoked == False,  # noqa: E712 - SQL comparison
        )
    )
    return {row.id: row.public_key for row in rows.all()}


def check_envelope(command: c.ReferralCommand, envelope: CloudEvent) -> None:
    if envelope.id != command.command_id:
        raise DeadLetter(
            "invalid_envelope",
            f"ce_id {envelope.id!r} must equal data.command_id {command.command_id!r}",
        )


def check_fresh(issued_at: str, now: datetime, window: timedelta) -> datetime:
    """The issue time, if within `window` of `now`; else a DeadLetter."""
    try:
        moment = signing.parse_issued_at(issued_at)
    except ValueError as exc:
        raise DeadLetter("invalid_data", str(exc)) from exc
    if abs(now - moment) > window:
        minutes = abs(now - moment).total_seconds() / 60
        raise DeadLetter(
            "stale_command",
            f"issued_at {issued_at} is {minutes:.1f} min "
            f"{'before' if moment < now else 'after'} the service clock "
            f"({signing.format_issued_at(now)}); "
            f"the window is ±{window.total_seconds() / 60:g} min",
        )
    return moment


async def verify_command(
    session: AsyncSession,
    command: c.ReferralCommand,
    envelope: CloudEvent,
    *,
    now: datetime,
    window: timedelta,
) -> Verified:
    """Signature against the member's active keys, then freshness; DeadLetter otherwise."""
    keys = await active_keys(session, command.member_id)
    try:
        key_id = signing.verify(keys, envelope.type, envelope.data, command.signature)
    except signing.SignatureError as exc:
        raise DeadLetter(
            "invalid_signature",
            f"command {command.command_id} ({envelope.type}) of member {command.member_id}: {exc}",
        ) from exc
    return Verified(key_id, check_fresh(command.issued_at, now, window))


def principal_for(member_id: str, member: KnownMember | None) -> Principal:
    """Who a verified command acts as: the member's tool."""
    return Principal(
        subject=f"member:{member_id}",
        member_id=member_id,
        network_ids=tuple(member.network_ids) if member else (),
        roles=(MEMBER_TOOL_ROLE,),
    )


async def run_command(
    session: AsyncSession, command: c.ReferralCommand, who: Principal, deps: Deps
) -> None:
    """The same use case as the HTTP route, without its commit (the consumer commits)."""
    member = await session.get(KnownMember, command.member_id)
    if member is not None and member.status != "active":
        raise ApiError(403, "auth.forbidden", reason="structure suspendue")
    referral = await referral_for(session, command.referral_id, who)
    if referral.project_id != command.project_id:
        raise ApiError(404, "not_found", what="Orientation", id=command.referral_id)
    if isinstance(command, c.AssignReferral):
        await referrals.assign(
            session, referral, command.adviser_user_id, who=who, deps=deps, commit=False
        )
        return
    payload: dict[str, Any] = command.model_dump(include=_PAYLOAD_FIELDS, exclude_none=True)
    await referrals.act(
        session, referral, ACTIONS[type(command)], payload, who=who, deps=deps, commit=False
    )


def rejection_reason(exc: ApiError) -> str:
    """The error code and its French message, as the HTTP API would have answered."""
    try:
        message = translate(exc.code, "fr", **exc.params)
    except (KeyError, IndexError, ValueError):
        message = exc.code
    return f"{exc.code} : {message}"[:2000]


class CommandHandler:
    """The consumer handler for every command type (see the module docstring)."""

    def __init__(self, deps: Deps, *, freshness: timedelta = DEFAULT_FRESHNESS) -> None:
        self.deps, self.freshness = deps, freshness

    async def __call__(self, command: c.ReferralCommand, ctx: HandlerContext) -> None:
        session, envelope = ctx.session, ctx.envelope
        check_envelope(command, envelope)
        if await session.get(MemberCommand, command.command_id) is not None:
            log.info("command %s already processed: acknowledged", command.command_id)
            return
        now = ctx.clock.now()
        verified = await verify_command(session, command, envelope, now=now, window=self.freshness)
        who = principal_for(command.member_id, await session.get(KnownMember, command.member_id))
        await session.flush()  # the inbox row first, so the savepoint nests in a transaction
        outcome, reason = "applied", None
        try:
            async with session.begin_nested():
                await run_command(session, command, who, self.deps)
        except ApiError as exc:
            if exc.status >= 500:
                raise  # not the command's fault: the kit retries, then dead-letters
            outcome, reason = "rejected", rejection_reason(exc)
            ctx.emit(
                CommandRejected(
                    project_id=command.project_id,
                    member_id=command.member_id,
                    command_id=command.command_id,
                    command_type=envelope.type,
                    reason=reason,
                    actor=who.subject,
                )
            )
        session.add(
            MemberCommand(
                command_id=command.command_id,
                command_type=envelope.type,
                member_id=command.member_id,
                key_id=verified.key_id,
                project_id=command.project_id,
                referral_id=command.referral_id,
                issued_at=verified.issued_at,
                received_at=now,
                outcome=outcome,
                reason=reason,
            )
        )
        log.info(
            "command %s (%s) of %s on referral %s: %s%s",
            command.command_id,
            envelope.type,
            command.member_id,
            command.referral_id,
            outcome,
            f" ({reason})" if reason else "",
        )


def command_subscription(deps: Deps, *, freshness: timedelta = DEFAULT_FRESHNESS) -> Subscription:
    """`referral.commands` -> every command type -> one CommandHandler."""
    handler = CommandHandler(deps, freshness=freshness)
    return Subscription(
        topic=c.TOPIC, purpose=PURPOSE, routes={model: handler for model in c.COMMANDS}
    )
