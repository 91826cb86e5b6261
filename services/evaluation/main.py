"""Evaluation service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlmodel import SQLModel

from services.evaluation.api import router
from services.evaluation.consumers import SUBSCRIPTIONS
from services.evaluation.models import ArchivedEvent, MemberReferralCount
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.http import create_service_app
from services.kit.runtime import ServiceRuntime

MODELS: list[type[SQLModel]] = [ArchivedEvent, MemberReferralCount]


def create_app(
    settings: EvaluationSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    settings = settings or EvaluationSettings()
    runtime = ServiceRuntime.build(
        settings,
        models=MODELS,
        subscriptions=SUBSCRIPTIONS,
        clock=clock,  # type: ignore[arg-type]
    )
    return create_service_app(runtime, title="Relais — evaluation", routers=[router])
