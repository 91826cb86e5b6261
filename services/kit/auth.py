"""JWT verification for HTTP: keys from the directory's JWKS, verified locally.

The directory signs short-lived ES256 tokens; every other service fetches its JWKS once, caches
it, and refreshes when it meets an unknown key id (key rotation without downtime).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kit.clock import Clock, SystemClock
from services.kit.errors import ApiError

LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    subject: str
    member_id: str | None
    network_ids: tuple[str, ...]
    roles: tuple[str, ...]

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        min_refresh_seconds: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        # Expiry is checked against the service's clock, so tests that move time stay true.
        self.clock: Clock = clock or SystemClock()
        self.issuer, self.audience, self.jwks_url = issuer, audience, jwks_url
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[Principal, float, float | None]] = {}
        self.min_refresh_seconds = min_refresh_seconds
        if jwks:
            self._load(jwks)

    def _load(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for entry in jwks.get("keys", []):
            keys[entry["kid"]] = jwt.PyJWK(entry).key
        self._keys = keys
        self._verified.clear()  # a key may have been withdrawn: check signatures afresh

    async def _refresh(self) -> None:
        if not self.jwks_url:
            return
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.min_refresh_seconds and self._keys:
                return
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
            self._load(response.json())
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        """The token's principal. A signature checked once is remembered (an ES256 check
        costs more than the rest of a small request); expiry is checked on every call."""
        cached = self._verified.get(token)
        if cached is not None:
            principal, exp, iat = cached
            self._check_times(exp, iat)
            return principal
        principal, exp, iat = await self._verify_signature(token)
        self._check_times(exp, iat)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # oldest first
        self._verified[token] = (principal, exp, iat)
        return principal

    def _check_times(self, exp: float, iat: float | None) -> None:
        now = self.clock.now().timestamp()
        if exp + LEEWAY_SECONDS <= now:
            raise ApiError(401, "auth.invalid", reason="jeton expiré")
        if iat is not None and iat - LEEWAY_SECONDS > now:
            raise ApiError(401, "auth.invalid", reason="jeton émis dans le futur")

    async def _verify_signature(self, token: str) -> tuple[Principal, float, float | None]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise ApiError(401, "auth.invalid", reason=str(exc)) from exc
        if kid not in self._keys:
            try:
                await self._refresh()
            except httpx.HTTPError as exc:
                raise ApiError(503, "unavailable", reason=f"JWKS: {exc}") from exc
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise ApiError(401, "auth.invalid", reason="unknown key id")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise ApiError(401, "auth.invalid", reason=str(exc)) from exc
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int | float):
            raise ApiError(401, "auth.invalid", reason="jeton expiré")
        principal = Principal(
            subject=claims["sub"],
            member_id=claims.get("member"),
            network_ids=tuple(claims.get("networks", [])),
            roles=tuple(claims.get("roles", [])),
        )
        return principal, float(exp), float(iat) if isinstance(iat, int | float) else None


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise ApiError(401, "auth.missing")
    verifier: JwtVerifier = request.app.state.verifier
    return await verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

OPERATIONS_ROLES = ("platform_admin", "network_operator")


async def require_operations(principal: CurrentPrincipal) -> Principal:
    """Dead letters and replays are for the platform's and networks' operators."""
    if not principal.has_role(*OPERATIONS_ROLES):
        raise ApiError(403, "auth.forbidden", reason="réservé aux opérateurs")
    return principal
