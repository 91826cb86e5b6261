"""Directory service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.directory.api import ROUTERS
from services.directory.domain import next_daily_run
from services.directory.handlers.offers import FRESHNESS_TIMER, remind_stale_offers
from services.directory.models import MODELS
from services.directory.settings import DirectorySettings
from services.kit.auth import JwtVerifier
from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.runtime import ServiceRuntime
from services.kit.timers import Fired, ensure_scheduled


def create_app(settings: DirectorySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or DirectorySettings()
    clock = clock or SystemClock()
    emit = Emitter(settings.event_source, clock)

    async def freshness(fired: Fired) -> None:
        await remind_stale_offers(fired, emit=emit)

    runtime = ServiceRuntime.build(
        settings, models=MODELS, clock=clock, timer_handlers={FRESHNESS_TIMER: freshness}
    )

    async def schedule_daily_jobs() -> None:
        async with runtime.db.transaction() as session:
            await ensure_scheduled(
                session, kind=FRESHNESS_TIMER, key="daily", due_at=next_daily_run(clock.now())
            )

    runtime.on_start(schedule_daily_jobs)
    # The directory verifies tokens against its own JWKS (one code path for every service).
    verifier = JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=f"{settings.base_url}/.well-known/jwks.json",
    )
    return create_service_app(
        runtime, title="Relais — directory", routers=ROUTERS, verifier=verifier
    )
