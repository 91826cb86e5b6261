"""Directory service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.directory.api import router
from services.directory.models import ApiKey, Member, SigningKey
from services.directory.settings import DirectorySettings
from services.kit.auth import JwtVerifier
from services.kit.clock import Clock
from services.kit.http import create_service_app
from services.kit.runtime import ServiceRuntime

MODELS = [Member, ApiKey, SigningKey]


def create_app(settings: DirectorySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or DirectorySettings()
    runtime = ServiceRuntime.build(settings, models=MODELS, clock=clock)  # type: ignore[arg-type]
    # The directory's own protected routes (dead letters) verify tokens from its own JWKS.
    verifier = JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=f"{settings.base_url}/.well-known/jwks.json",
    )
    return create_service_app(
        runtime,
        title="Relais — directory",
        routers=[router],
        verifier=verifier,
    )
