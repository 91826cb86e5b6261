"""Notify service entrypoint: the only place that builds its engine, broker, HTTP client, app.

Two independent parts: webhooks to partner systems (services/notify/webhooks) and the people
channels (services/notify/people), each consuming in its own consumer groups. A process runs
both, or the one NOTIFY_PARTS names.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.kit.runtime import ServiceRuntime
from services.notify.people import build_people_part
from services.notify.settings import NotifySettings
from services.notify.webhooks.part import build_webhooks_part


def create_app(settings: NotifySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    clock = clock or SystemClock()
    emit = Emitter(settings.event_source, clock)
    webhooks = build_webhooks_part(settings, clock, emit) if "webhooks" in settings.parts else None
    chosen = [webhooks.part] if webhooks is not None else []
    if "people" in settings.parts:
        chosen.append(build_people_part(settings, clock, emit))
    part = ServicePart.combine(chosen)
    runtime = ServiceRuntime.build(
        settings,  # type: ignore[arg-type]
        models=part.models,
        subscriptions=part.subscriptions,
        timer_handlers=part.timer_handlers,
        clock=clock,
    )
    if webhooks is not None:
        webhooks.bind(runtime)
    for hook in part.on_start:
        runtime.on_start(hook)
    for hook in part.on_stop:
        runtime.on_stop(hook)
    app = create_service_app(runtime, title="Relais — notify", routers=part.routers)
    if webhooks is not None:
        app.state.webhooks = webhooks.hooks
    return app
