"""The FastAPI side every service shares: lifespan, health, readiness, metrics, errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.auth import JwtVerifier, require_operations
from services.kit.dlq import dlq_router
from services.kit.errors import install_error_handlers
from services.kit.logs import configure_logging
from services.kit.metrics import HTTP_LATENCY
from services.kit.runtime import ServiceRuntime


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    routers: Sequence[APIRouter],
    verifier: JwtVerifier | None = None,
    description: str = "",
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.verifier = verifier or JwtVerifier(
        issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url
    )
    app.state.verifier.clock = runtime.clock
    install_error_handlers(app)

    app.add_middleware(RequestSessionMiddleware)
    app.add_middleware(LatencyMiddleware)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = checks["database"] == "ok" and checks["kafka"] == "ok"
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    app.include_router(
        dlq_router(lambda: settings.kafka_bootstrap_servers),
        dependencies=[Depends(require_operations)],
    )
    return app


class RequestSessionMiddleware:
    """Closes the session `get_session` opened for the request (rolling back what was not
    committed), whatever the outcome, after the whole response was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})  # shared with any copy of the scope below
        try:
            await self.app(scope, receive, send)
        finally:
            session = state.pop(REQUEST_SESSION, None)
            if session is not None:
                with anyio.CancelScope(shield=True):  # a cancelled request still hands back
                    await session.close()  # its connection (and SQLite's write lock)


class LatencyMiddleware:
    """Request latency per route, as plain ASGI (Starlette's BaseHTTPMiddleware costs ~1 ms)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


REQUEST_SESSION = "relais.session"


async def get_session(request: Request) -> AsyncSession:
    """The request's session, closed by `RequestSessionMiddleware` once the response is sent.

    A plain async dependency rather than a `yield` one: FastAPI wraps those in an exit stack
    and a shielded cancel scope, about a tenth of a referral creation's CPU.
    """
    state = request.scope.setdefault("state", {})
    session: AsyncSession | None = state.get(REQUEST_SESSION)
    if session is None:
        runtime: ServiceRuntime = request.app.state.runtime
        session = state[REQUEST_SESSION] = runtime.db.sessionmaker()
    return session


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
