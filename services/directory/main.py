"""Directory service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.directory.api import ROUTERS
from services.directory.api.internal import install_internal_api
from services.directory.api_match import (
    SEARCH_STATS_TIMER,
    flush_search_statistics,
    flush_search_statistics_now,
    start_search_statistics,
)
from services.directory.api_match import router as match_router
from services.directory.domain import next_daily_run
from services.directory.geo import load
from services.directory.handlers.offers import FRESHNESS_TIMER, remind_stale_offers
from services.directory.matching import SearchStats
from services.directory.models import MODELS
from services.directory.offer_index import OfferIndexLoader
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
    geo = load()
    stats = SearchStats(geo)

    async def freshness(fired: Fired) -> None:
        await remind_stale_offers(fired, emit=emit)

    async def search_statistics(fired: Fired) -> None:
        await flush_search_statistics(fired, stats, emit, min_count=settings.search_stats_min_count)

    runtime = ServiceRuntime.build(
        settings,
        models=MODELS,
        clock=clock,
        timer_handlers={FRESHNESS_TIMER: freshness, SEARCH_STATS_TIMER: search_statistics},
    )
    loader = OfferIndexLoader(runtime.db)  # reloads after commits that changed offers

    async def schedule_recurring_jobs() -> None:
        async with runtime.db.transaction() as session:
            await ensure_scheduled(
                session, kind=FRESHNESS_TIMER, key="daily", due_at=next_daily_run(clock.now())
            )
        await start_search_statistics(runtime.db, clock, stats)

    async def flush_statistics() -> None:
        await flush_search_statistics_now(
            runtime.db, clock, stats, emit, min_count=settings.search_stats_min_count
        )

    runtime.on_start(schedule_recurring_jobs)
    runtime.on_stop(flush_statistics)
    # The directory verifies tokens against its own JWKS (one code path for every service).
    verifier = JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_url=f"{settings.base_url}/.well-known/jwks.json",
    )
    app = create_service_app(
        runtime, title="Relais — directory", routers=[*ROUTERS, match_router], verifier=verifier
    )
    install_internal_api(app, settings)  # notify's read-only address lookups
    app.state.offer_index = loader
    app.state.search_stats = stats
    app.state.geo = geo
    return app
