"""Evaluation service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.evaluation.api import router
from services.evaluation.consumers import SUBSCRIPTIONS
from services.evaluation.models import ArchivedEvent, MemberReferralCount
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.http import create_service_app
from services.kit.runtime import ServiceRuntime

TABLES = [ArchivedEvent.__table__, MemberReferralCount.__table__]


def create_app(settings: EvaluationSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or EvaluationSettings()
    runtime = ServiceRuntime.build(
        settings, tables=TABLES, subscriptions=SUBSCRIPTIONS, clock=clock  # type: ignore[arg-type]
    )
    return create_service_app(runtime, title="Relais — evaluation", routers=[router])
