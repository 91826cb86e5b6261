"""Assignment and the messages sender and receiver exchange (sealed with the project)."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events import referral as ev
from services.kit.auth import Principal
from services.kit.errors import ApiError
from services.referral.domain import Party
from services.referral.handlers.common import Deps, member_of, party_of
from services.referral.handlers.referrals.steps import _claim_version, _ids, _record
from services.referral.models import (
    AccessLogEntry,
    Message,
    ProjectKey,
    Referral,
)

log = logging.getLogger("relais.referral")


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
