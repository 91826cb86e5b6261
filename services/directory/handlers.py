"""Directory use cases. Each takes its session and collaborators as arguments."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.directory import MemberRegistered
from services.directory import domain, keys
from services.directory.models import ApiKey, Member, MemberCreate, TokenResponse
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.directory")
Emit = Callable[[AsyncSession, Event], CloudEvent]


async def register_member(
    session: AsyncSession, data: MemberCreate, *, emit: Emit, clock: Clock
) -> tuple[Member, str]:
    """Create a member and its first API key; the event and the rows commit together."""
    now = clock.now()
    member = Member.model_validate(data, update={"created_at": now})
    api_key = domain.new_api_key()
    session.add(member)
    await session.flush()
    session.add(
        ApiKey(member_id=member.id, secret_hash=domain.hash_api_key(api_key), created_at=now)
    )
    emit(
        session,
        MemberRegistered(
            member_id=member.id,
            name=member.name,
            network_ids=member.network_ids,
            commune=member.commune,
            schemes=member.schemes,
        ),
    )
    await session.commit()
    log.info("member %s registered: %s", member.id, member.name)
    return member, api_key


async def issue_platform_admin_token(
    session: AsyncSession, *, clock: Clock, issuer: str, audience: str, ttl: int
) -> TokenResponse:
    """Caller checked the admin key. Operators' own logins come with the directory issue."""
    now = clock.now()
    signing_key = await keys.active_key(session, now)
    claims = domain.platform_admin_claims(issuer=issuer, audience=audience, now=now, ttl=ttl)
    log.info("platform admin token issued")
    return TokenResponse(access_token=keys.sign(claims, signing_key), expires_in=ttl)


async def issue_token_for_api_key(
    session: AsyncSession, api_key: str, *, clock: Clock, issuer: str, audience: str, ttl: int
) -> TokenResponse:
    now = clock.now()
    found = (
        await session.exec(
            select(ApiKey, Member)
            .join(Member)
            .where(ApiKey.secret_hash == domain.hash_api_key(api_key))
        )
    ).first()
    if found is None or found[0].revoked_at is not None:
        raise ApiError(401, "api_key.invalid")
    key_row, member = found
    if member.status != "active":
        raise ApiError(403, "auth.forbidden", reason="structure suspendue")
    key_row.last_used_at = now
    session.add(key_row)
    await session.commit()
    signing_key = await keys.active_key(session, now)
    claims = domain.member_token_claims(
        member_id=member.id,
        network_ids=member.network_ids,
        issuer=issuer,
        audience=audience,
        now=now,
        ttl=ttl,
    )
    return TokenResponse(access_token=keys.sign(claims, signing_key), expires_in=ttl)
