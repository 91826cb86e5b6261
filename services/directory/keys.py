"""Token signing keys: ES256, kept in the directory's database, published as a JWKS."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.directory.models import SigningKey


def generate_signing_key(now: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = uuid.uuid4().hex[:16]
    public_jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    public_jwk.update(kid=kid, use="sig", alg="ES256")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(kid=kid, private_pem=pem, public_jwk=public_jwk, created_at=now)


async def active_key(session: AsyncSession, now: datetime) -> SigningKey:
    """The newest active key, created on first use."""
    key = (
        await session.exec(
            select(SigningKey)
            .where(col(SigningKey.active))
            .order_by(col(SigningKey.created_at).desc())
        )
    ).first()
    if key is None:
        key = generate_signing_key(now)
        session.add(key)
        await session.commit()
    return key


async def jwks(session: AsyncSession) -> dict[str, Any]:
    keys = (await session.exec(select(SigningKey).where(col(SigningKey.active)))).all()
    return {"keys": [k.public_jwk for k in keys]}


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})
