"""A member's API keys (for its tools' tokens) and command-signing public keys."""

from __future__ import annotations

import base64
import binascii
import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.directory import (
    ApiKeyCreated,
    ApiKeyRevoked,
    CommandKeyRegistered,
    CommandKeyRevoked,
)
from services.directory import access, domain
from services.directory.handlers.common import Emit, actor_of, get_member, networks_of
from services.directory.models import ApiKey, CommandKey, CommandKeyCreate
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.directory")


async def _check(session: AsyncSession, who: Principal, member_id: str) -> None:
    await get_member(session, member_id)
    access.check_edit_offers_of(who, member_id, await networks_of(session, member_id))


async def create_api_key(
    session: AsyncSession, member_id: str, label: str, *, who: Principal, emit: Emit, clock: Clock
) -> tuple[ApiKey, str]:
    await _check(session, who, member_id)
    secret = domain.new_api_key()
    key = ApiKey(
        member_id=member_id,
        label=label,
        secret_hash=domain.hash_api_key(secret),
        created_at=clock.now(),
    )
    session.add(key)
    emit(
        session, ApiKeyCreated(member_id=member_id, key_id=key.id, label=label, actor=actor_of(who))
    )
    await session.commit()
    log.info("API key %s created for %s", key.id, member_id)
    return key, secret


async def list_api_keys(session: AsyncSession, member_id: str, *, who: Principal) -> list[ApiKey]:
    await _check(session, who, member_id)
    rows = await session.exec(
        select(ApiKey).where(ApiKey.member_id == member_id).order_by(col(ApiKey.created_at))
    )
    return list(rows.all())


async def revoke_api_key(
    session: AsyncSession, key_id: str, *, who: Principal, emit: Emit, clock: Clock
) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise ApiError(404, "not_found", what="Clé d'API", id=key_id)
    await _check(session, who, key.member_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        session.add(key)
        emit(
            session,
            ApiKeyRevoked(
                member_id=key.member_id, key_id=key.id, label=key.label, actor=actor_of(who)
            ),
        )
        await session.commit()
        log.info("API key %s revoked", key.id)
    return key


def parse_ed25519(text: str) -> str:
    """Accept a PEM or a base64url raw key; return the raw key, base64url without padding."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error) as exc:
        raise ApiError(
            422, "validation", summary=f"clé publique Ed25519 illisible : {exc}"
        ) from exc
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def register_command_key(
    session: AsyncSession,
    member_id: str,
    data: CommandKeyCreate,
    *,
    who: Principal,
    emit: Emit,
    clock: Clock,
) -> CommandKey:
    await _check(session, who, member_id)
    key = CommandKey(
        member_id=member_id,
        label=data.label,
        public_key=parse_ed25519(data.public_key),
        created_at=clock.now(),
    )
    session.add(key)
    emit(
        session,
        CommandKeyRegistered(
            member_id=member_id, key_id=key.id, public_key=key.public_key, actor=actor_of(who)
        ),
    )
    await session.commit()
    log.info("command key %s registered for %s", key.id, member_id)
    return key


async def list_command_keys(session: AsyncSession, member_id: str) -> list[CommandKey]:
    rows = await session.exec(
        select(CommandKey)
        .where(CommandKey.member_id == member_id)
        .order_by(col(CommandKey.created_at))
    )
    return list(rows.all())


async def revoke_command_key(
    session: AsyncSession, key_id: str, *, who: Principal, emit: Emit, clock: Clock
) -> CommandKey:
    key = await session.get(CommandKey, key_id)
    if key is None:
        raise ApiError(404, "not_found", what="Clé de signature", id=key_id)
    await _check(session, who, key.member_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        session.add(key)
        emit(
            session, CommandKeyRevoked(member_id=key.member_id, key_id=key.id, actor=actor_of(who))
        )
        await session.commit()
    return key
