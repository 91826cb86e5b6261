"""Notify service entrypoint: the only place that builds its engine, broker, HTTP client, app."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlmodel import SQLModel

from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.kit.runtime import ServiceRuntime
from services.notify import handlers
from services.notify.api import router
from services.notify.consumers import subscriptions
from services.notify.models import Delivery
from services.notify.people import build_people_part
from services.notify.settings import NotifySettings

MODELS: list[type[SQLModel]] = [Delivery]


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
    webhooks = ServicePart(
        models=MODELS,
        subscriptions=subscriptions(target),
        timer_handlers={handlers.WEBHOOK_TIMER: handlers.deliver_webhook(target, client, emit)},
        routers=[router],
    )
    part = ServicePart.combine([webhooks, build_people_part(settings, clock, emit)])
    runtime = ServiceRuntime.build(
        settings,  # type: ignore[arg-type]
        models=part.models,
        subscriptions=part.subscriptions,
        timer_handlers=part.timer_handlers,
        clock=clock,
    )
    for hook in part.on_start:
        runtime.on_start(hook)
    for hook in part.on_stop:
        runtime.on_stop(hook)

    async def close_clients() -> None:
        for c in clients:
            await c.aclose()

    runtime.on_stop(close_clients)
    return create_service_app(runtime, title="Relais — notify", routers=part.routers)
