"""Referral service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlmodel import SQLModel

from services.kit.clock import Clock
from services.kit.http import create_service_app
from services.kit.runtime import ServiceRuntime
from services.referral.api import router
from services.referral.consumers import SUBSCRIPTIONS
from services.referral.models import KnownMember, Referral
from services.referral.settings import ReferralSettings

MODELS: list[type[SQLModel]] = [KnownMember, Referral]


def create_app(settings: ReferralSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime.build(
        settings,
        models=MODELS,
        subscriptions=SUBSCRIPTIONS,
        clock=clock,  # type: ignore[arg-type]
    )
    return create_service_app(runtime, title="Relais — referral", routers=[router])
