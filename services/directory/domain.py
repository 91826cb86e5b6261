"""Pure directory rules: API key format and hashing, token claims. No I/O."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

API_KEY_PREFIX = "rk_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """API keys are 256-bit random: a plain SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def platform_admin_claims(*, issuer: str, audience: str, now: datetime, ttl: int) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": audience,
        "sub": "platform-admin",
        "roles": ["platform_admin"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }


def member_token_claims(
    *, member_id: str, network_ids: list[str], issuer: str, audience: str, now: datetime, ttl: int
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": audience,
        "sub": f"member:{member_id}",
        "member": member_id,
        "networks": network_ids,
        "roles": ["member_tool"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
