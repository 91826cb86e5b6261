"""Service-to-service endpoints: a router under `/internal/v1` guarded by a shared key.

No person calls these (notify asks the directory and the referral service for addresses at
send time), so they take a service credential in `X-Internal-Key`, not a user's token. Each
service reads its key from `<PREFIX>INTERNAL_KEY`; the development default is refused in
production at start-up, and the key is compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Request

from services.kit.errors import ApiError

DEV_INTERNAL_KEY = "dev-internal-key-change-me"


def install_internal_router(
    app: FastAPI, router: APIRouter, *, env_name: str, environment: str
) -> None:
    """Mount `router` with the key from `env_name`; refuse a missing or weak key in production."""
    key = os.environ.get(env_name) or None
    if key is None or key == DEV_INTERNAL_KEY:
        if environment == "production":
            raise ValueError(f"{env_name} must be set outside development")
        key = DEV_INTERNAL_KEY
    if len(key) < 16:
        raise ValueError(f"{env_name} must be at least 16 characters")
    app.state.internal_key = key
    app.include_router(router)


async def require_internal_key(
    request: Request, x_internal_key: Annotated[str | None, Header()] = None
) -> None:
    expected: str = request.app.state.internal_key
    if not x_internal_key or not hmac.compare_digest(x_internal_key, expected):
        raise ApiError(401, "auth.invalid", reason="clé de service interne")
