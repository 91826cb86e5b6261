"""Identity: tokens for API keys, users' passwords and the platform admin; users' lifecycle."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.directory import UserActivated, UserDeactivated, UserInvited
from services.directory import access, domain, keys
from services.directory.handlers.common import Emit, actor_of, check_networks_exist, networks_of
from services.directory.models import (
    ApiKey,
    Member,
    TokenResponse,
    User,
    UserCreate,
    UserToken,
)
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.directory")
_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown email like a real one.
_DUMMY_HASH = _hasher.hash("relais-timing-equaliser-0")


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    ttl: int


@dataclass(frozen=True)
class Identity:
    """Whom a token speaks for."""

    subject: str
    member_id: str | None
    network_ids: list[str]
    roles: list[str]


async def _issue(
    session: AsyncSession, policy: TokenPolicy, now: datetime, who: Identity
) -> TokenResponse:
    key = await keys.active_key(session, now)
    body = domain.token_claims(
        subject=who.subject,
        member_id=who.member_id,
        network_ids=who.network_ids,
        roles=who.roles,
        issuer=policy.issuer,
        audience=policy.audience,
        now=now,
        ttl=policy.ttl,
    )
    return TokenResponse(access_token=keys.sign(body, key), expires_in=policy.ttl)


async def token_for_api_key(
    session: AsyncSession, api_key: str, *, clock: Clock, policy: TokenPolicy
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
    networks = await networks_of(session, member.id)
    who = Identity(f"member:{member.id}", member.id, networks, [access.MEMBER_TOOL])
    return await _issue(session, policy, now, who)


async def token_for_password(
    session: AsyncSession, email: str, password: str, *, clock: Clock, policy: TokenPolicy
) -> TokenResponse:
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
        ok = user is not None and user.password_hash is not None and user.status == "active"
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    if not ok or user is None:
        raise ApiError(401, "login.invalid")
    now = clock.now()
    user.last_login_at = now
    if _hasher.check_needs_rehash(stored):
        user.password_hash = await asyncio.to_thread(_hasher.hash, password)
    session.add(user)
    await session.commit()
    return await _issue(session, policy, now, await user_identity(session, user))


async def user_identity(session: AsyncSession, user: User) -> Identity:
    if user.member_id is not None:
        networks = await networks_of(session, user.member_id)
    else:
        networks = [user.network_id] if user.network_id else []
    return Identity(f"user:{user.id}", user.member_id, networks, list(user.roles))


async def token_for_platform_admin(
    session: AsyncSession, *, clock: Clock, policy: TokenPolicy
) -> TokenResponse:
    """The caller checked the admin key."""
    log.info("platform admin token issued")
    who = Identity("platform-admin", None, [], [access.PLATFORM_ADMIN])
    return await _issue(session, policy, clock.now(), who)


# --- users -----------------------------------------------------------------------------
def _scope(user: User) -> str:
    return user.member_id or user.network_id or "platform"


async def invite_user(
    session: AsyncSession,
    data: UserCreate,
    *,
    who: Principal,
    emit: Emit,
    clock: Clock,
    link_ttl: timedelta,
) -> tuple[User, str]:
    """Create an invited user and a one-time invitation secret (returned once, stored hashed)."""
    member_networks: list[str] = []
    if data.member_id is not None:
        if await session.get(Member, data.member_id) is None:
            raise ApiError(422, "member.unknown", id=data.member_id)
        member_networks = await networks_of(session, data.member_id)
    if data.network_id is not None:
        await check_networks_exist(session, [data.network_id])
    access.check_manage_user(
        who,
        roles=data.roles,
        member_id=data.member_id,
        member_networks=member_networks,
        network_id=data.network_id,
    )
    email = str(data.email).lower()
    if (await session.exec(select(User).where(User.email == email))).first() is not None:
        raise ApiError(409, "conflict", reason=f"un compte existe déjà pour {email}")
    now = clock.now()
    user = User(
        email=email,
        name=data.name,
        member_id=data.member_id,
        network_id=data.network_id,
        roles=list(dict.fromkeys(data.roles)),
        created_at=now,
    )
    session.add(user)
    await session.flush()
    secret = _one_time(session, user.id, "invitation", now + link_ttl)
    emit(
        session,
        UserInvited(
            scope_id=_scope(user),
            user_id=user.id,
            member_id=user.member_id,
            network_id=user.network_id,
            roles=user.roles,
            actor=actor_of(who),
        ),
    )
    await session.commit()
    log.info("user %s invited (%s)", user.id, ", ".join(user.roles))
    return user, secret


def _one_time(session: AsyncSession, user_id: str, purpose: str, expires_at: datetime) -> str:
    secret = domain.new_one_time_secret()
    session.add(
        UserToken(
            secret_hash=domain.hash_secret(secret),
            user_id=user_id,
            purpose=purpose,
            expires_at=expires_at,
        )
    )
    return secret


async def request_password_reset(
    session: AsyncSession, email: str, *, clock: Clock, link_ttl: timedelta
) -> tuple[User, str] | None:
    """A reset secret for an active user, or None (the API answers the same either way)."""
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None or user.status == "deactivated":
        return None
    secret = _one_time(session, user.id, "reset", clock.now() + link_ttl)
    await session.commit()
    log.info("password reset requested for %s", user.id)
    return user, secret


async def set_password(
    session: AsyncSession, secret: str, password: str, *, emit: Emit, clock: Clock
) -> User:
    """Use an invitation or reset secret once to set a password; an invited user becomes active."""
    now = clock.now()
    token = await session.get(UserToken, domain.hash_secret(secret))
    if token is None or token.used_at is not None or token.expires_at <= now:
        raise ApiError(400, "user_token.invalid")
    user = await session.get(User, token.user_id)
    if user is None or user.status == "deactivated":
        raise ApiError(400, "user_token.invalid")
    if not domain.password_is_strong(password):
        raise ApiError(422, "password.weak", min=domain.PASSWORD_MIN_LENGTH)
    user.password_hash = await asyncio.to_thread(_hasher.hash, password)
    token.used_at = now
    if user.status == "invited":
        user.status = "active"
        emit(
            session,
            UserActivated(
                scope_id=_scope(user),
                user_id=user.id,
                member_id=user.member_id,
                network_id=user.network_id,
                actor=f"user:{user.id}",
            ),
        )
    session.add_all([user, token])
    await session.commit()
    return user


async def deactivate_user(
    session: AsyncSession, user_id: str, *, who: Principal, emit: Emit, clock: Clock
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", what="Utilisateur", id=user_id)
    networks = await networks_of(session, user.member_id) if user.member_id else []
    access.check_manage_user(
        who,
        roles=user.roles,
        member_id=user.member_id,
        member_networks=networks,
        network_id=user.network_id,
    )
    if user.status == "deactivated":
        raise ApiError(409, "conflict", reason="ce compte est déjà désactivé")
    user.status, user.password_hash = "deactivated", None
    # Pending links die with the account.
    pending = await session.exec(
        select(UserToken).where(UserToken.user_id == user.id, col(UserToken.used_at).is_(None))
    )
    for token in pending.all():
        token.used_at = clock.now()
        session.add(token)
    session.add(user)
    emit(
        session,
        UserDeactivated(
            scope_id=_scope(user),
            user_id=user.id,
            member_id=user.member_id,
            network_id=user.network_id,
            actor=actor_of(who),
        ),
    )
    await session.commit()
    log.info("user %s deactivated", user.id)
    return user


async def list_users(session: AsyncSession, *, who: Principal) -> list[User]:
    """What `who` may see: platform admins all, operators their networks', admins their member's."""
    query = select(User).order_by(col(User.email))
    if access.is_platform_admin(who):
        return list((await session.exec(query)).all())
    visible = []
    for user in (await session.exec(query)).all():
        networks = await networks_of(session, user.member_id) if user.member_id else []
        if (
            user.member_id and user.member_id == who.member_id and who.has_role(access.MEMBER_ADMIN)
        ) or access.operates(who, networks + ([user.network_id] if user.network_id else [])):
            visible.append(user)
    return visible
