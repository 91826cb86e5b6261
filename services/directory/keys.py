"""Token signing keys: ES256, kept in the directory's database, published as a JWKS.

Rotation without downtime: a new key is published in the JWKS as soon as it exists and signs
from then on; verifiers fetch the JWKS again when they meet an unknown key id. Superseded keys
stay published until every token they signed has expired, then are retired.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.directory.models import SigningKey


def generate_signing_key(now: datetime, generation: int = 1) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = uuid.uuid4().hex[:16]
    public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public_jwk.update(kid=kid, use="sig", alg="ES256")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(
        generation=generation,
        kid=kid,
        private_pem=pem,
        public_jwk=public_jwk,
        created_at=now,
        signs_from=now,
    )


async def _published(session: AsyncSession) -> list[SigningKey]:
    rows = await session.exec(
        select(SigningKey)
        .where(col(SigningKey.retired_at).is_(None))
        .order_by(col(SigningKey.generation).desc())
    )
    return list(rows.all())


async def active_key(session: AsyncSession, now: datetime) -> SigningKey:
    """The newest published key allowed to sign now; the first one is created on first use."""
    for key in await _published(session):
        if key.signs_from <= now:
            return key
    key = generate_signing_key(now)
    session.add(key)
    await session.commit()
    return key


async def rotate(session: AsyncSession, now: datetime, token_ttl: timedelta) -> SigningKey:
    """Publish and start signing with a new key; retire keys whose tokens have all expired."""
    previous = await _published(session)
    newest = (await session.exec(select(func.max(SigningKey.generation)))).one() or 0
    new_key = generate_signing_key(now, newest + 1)
    session.add(new_key)
    for older, newer in zip(previous, [new_key, *previous], strict=False):
        # `older` stopped signing when `newer` started; its last token expires ttl later.
        if newer.signs_from + token_ttl <= now and older.kid != new_key.kid:
            older.retired_at = now
            session.add(older)
    await session.commit()
    return new_key


async def jwks(session: AsyncSession) -> dict[str, Any]:
    return {"keys": [k.public_jwk for k in await _published(session)]}


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})
