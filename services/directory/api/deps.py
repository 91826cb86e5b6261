"""Directory request dependencies: the acting principal (token or platform admin key)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.directory.handlers.identity import TokenPolicy
from services.directory.settings import DirectorySettings
from services.kit.auth import Principal, current_principal
from services.kit.errors import ApiError

PLATFORM_ADMIN = Principal(
    subject="platform-admin", member_id=None, network_ids=(), roles=("platform_admin",)
)
_bearer = HTTPBearer(auto_error=False)


def settings_in(request: Request) -> DirectorySettings:
    settings: DirectorySettings = request.app.state.settings
    return settings


async def settings_of(request: Request) -> DirectorySettings:
    return settings_in(request)


def admin_key_is_valid(request: Request, admin_key: str | None) -> bool:
    expected = settings_in(request).admin_key
    return bool(admin_key) and hmac.compare_digest(str(admin_key), expected)


async def acting_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_admin_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """A bearer token, or the platform admin key (scripts and the demo loader)."""
    if x_admin_key is not None:
        if not admin_key_is_valid(request, x_admin_key):
            raise ApiError(401, "admin.invalid")
        return PLATFORM_ADMIN
    return await current_principal(request, credentials)


async def token_policy(request: Request) -> TokenPolicy:
    settings = settings_in(request)
    return TokenPolicy(settings.jwt_issuer, settings.jwt_audience, settings.token_ttl_seconds)


Actor = Annotated[Principal, Depends(acting_principal)]
Settings = Annotated[DirectorySettings, Depends(settings_of)]
Policy = Annotated[TokenPolicy, Depends(token_policy)]
