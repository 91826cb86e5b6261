"""Referral service entrypoint: the only place that builds its engine, broker and app."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.clock import Clock, SystemClock
from services.kit.http import create_service_app
from services.kit.outbox import Emitter
from services.kit.runtime import ServiceRuntime
from services.kit.timers import Fired
from services.referral.api import ROUTERS
from services.referral.api.internal import install_internal_api
from services.referral.api.public import mask_links_in_access_logs
from services.referral.commands import COMMAND_MODELS
from services.referral.consumers import subscriptions
from services.referral.crypto import Vault
from services.referral.handlers import escalation, retention
from services.referral.handlers.common import Deps
from services.referral.handlers.referrals import EXPIRY_TIMER, REMINDER_TIMER
from services.referral.models import MODELS
from services.referral.settings import ReferralSettings


def create_app(settings: ReferralSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    clock = clock or SystemClock()
    deps = Deps(
        emit=Emitter(settings.event_source, clock),
        clock=clock,
        vault=Vault(settings.master_key_bytes),
        settings=settings,
    )

    async def reminder(fired: Fired) -> None:
        await escalation.on_reminder_due(fired, deps)

    async def expiry(fired: Fired) -> None:
        await escalation.on_expiry_due(fired, deps)

    async def retention_run(fired: Fired) -> None:
        await retention.on_retention_due(fired, deps)

    async def anonymise(fired: Fired) -> None:
        await retention.on_anonymise_due(fired, deps)

    runtime = ServiceRuntime.build(
        settings,
        models=[*MODELS, *COMMAND_MODELS],
        subscriptions=subscriptions(deps),
        clock=clock,
        timer_handlers={
            REMINDER_TIMER: reminder,
            EXPIRY_TIMER: expiry,
            retention.RETENTION_TIMER: retention_run,
            retention.ANONYMISE_TIMER: anonymise,
        },
    )

    async def schedule_recurring_jobs() -> None:
        await retention.schedule_daily(runtime.db, clock)

    runtime.on_start(schedule_recurring_jobs)
    mask_links_in_access_logs()
    app = create_service_app(runtime, title="Relais — referral", routers=ROUTERS)
    app.state.referral_deps = deps
    install_internal_api(app, settings)  # notify reads a porteur's address at send time
    return app
