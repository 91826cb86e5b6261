"""Evaluation service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.evaluation.api import router
from services.evaluation.consumers import SUBSCRIPTIONS
from services.evaluation.grid import build_grid_part
from services.evaluation.handlers.store import ensure_state
from services.evaluation.models import PROJECTION_MODELS
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.kit.runtime import ServiceRuntime

MODELS = PROJECTION_MODELS


def create_app(
    settings: EvaluationSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    settings = settings or EvaluationSettings()
    clock = clock or SystemClock()
    emit = Emitter(settings.event_source, clock)
    runtime_box: list[ServiceRuntime] = []

    async def projection_state() -> None:
        async with runtime_box[0].db.transaction() as session:
            await ensure_state(session)

    indicators = ServicePart(
        models=MODELS,
        subscriptions=SUBSCRIPTIONS,
        routers=[router],
        on_start=[projection_state],
    )
    part = ServicePart.combine([indicators, build_grid_part(settings, clock, emit)])
    runtime = ServiceRuntime.build(
        settings,  # type: ignore[arg-type]
        models=part.models,
        subscriptions=part.subscriptions,
        timer_handlers=part.timer_handlers,
        clock=clock,
    )
    runtime_box.append(runtime)
    for hook in part.on_start:
        runtime.on_start(hook)
    for hook in part.on_stop:
        runtime.on_stop(hook)
    return create_service_app(runtime, title="Relais — evaluation", routers=part.routers)
