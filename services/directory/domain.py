"""Pure directory rules: secrets and their hashes, token claims, freshness. No I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, time, timedelta
from typing import Any

from services.kit.clock import PARIS

API_KEY_PREFIX = "rk_"
STALE_AFTER_DAYS = 183  # about six months
PASSWORD_MIN_LENGTH = 12


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_one_time_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """API keys and one-time links are 256-bit random: SHA-256 is enough (no stretching)."""
    return hashlib.sha256(secret.encode()).hexdigest()


hash_api_key = hash_secret


def password_is_strong(password: str) -> bool:
    return (
        len(password) >= PASSWORD_MIN_LENGTH
        and re.search(r"[A-Za-z]", password) is not None
        and re.search(r"[0-9]", password) is not None
    )


def token_claims(
    *,
    subject: str,
    member_id: str | None,
    network_ids: list[str],
    roles: list[str],
    issuer: str,
    audience: str,
    now: datetime,
    ttl: int,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "networks": network_ids,
        "roles": roles,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    if member_id is not None:
        claims["member"] = member_id
    return claims


def stale_before(now: datetime) -> datetime:
    return now - timedelta(days=STALE_AFTER_DAYS)


def is_stale(updated_at: datetime, now: datetime) -> bool:
    return updated_at < stale_before(now)


def months_between(earlier: datetime, later: datetime) -> int:
    return max(1, (later.year - earlier.year) * 12 + later.month - earlier.month)


def next_daily_run(now: datetime, at: time = time(6, 0)) -> datetime:
    """The next 06:00 Europe/Paris after `now` (daily jobs run on Paris calendar days)."""
    local = now.astimezone(PARIS)
    candidate = datetime.combine(local.date(), at, tzinfo=PARIS)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=PARIS)
    return candidate
