"""Notify service entrypoint: the only place that builds its engine, broker, HTTP client, app."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.runtime import ServiceRuntime
from services.notify import handlers
from services.notify.api import router
from services.notify.consumers import subscriptions
from services.notify.models import Delivery
from services.notify.settings import NotifySettings

MODELS = [Delivery]


def create_app(settings: NotifySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    clock = clock or SystemClock()
    target = handlers.WebhookTarget(
        url=settings.webhook_url,
        secret=settings.webhook_secret,
        max_attempts=settings.webhook_max_attempts,
    )
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        # Built lazily inside the running event loop; closed when the app stops.
        if not clients:
            clients.append(httpx.AsyncClient(timeout=settings.webhook_timeout_seconds))
        return clients[0]

    emit = Emitter(settings.event_source, clock)
    runtime = ServiceRuntime.build(
        settings,  # type: ignore[arg-type]
        models=MODELS,
        subscriptions=subscriptions(target),
        timer_handlers={handlers.WEBHOOK_TIMER: handlers.deliver_webhook(target, client, emit)},
        clock=clock,
    )

    async def close_clients() -> None:
        for c in clients:
            await c.aclose()

    runtime.on_stop(close_clients)
    return create_service_app(runtime, title="Relais — notify", routers=[router])
