"""The webhooks slice of notify, as a ServicePart; `bind` hands it the runtime once built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from services.kit.clock import Clock
from services.kit.consumer import Subscription as Route
from services.kit.db import Database
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.kit.runtime import ServiceRuntime
from services.notify.settings import NotifySettings
from services.notify.webhooks import delivery, domain, subscriptions
from services.notify.webhooks.api import router
from services.notify.webhooks.dispatcher import Dispatcher
from services.notify.webhooks.models import MODELS
from services.notify.webhooks.secrets import DEVELOPMENT_KEY, SecretBox, parse_key

CONSUMER_PURPOSE = "referral-webhooks"


def policy_of(settings: NotifySettings) -> delivery.Policy:
    return delivery.Policy(
        schedule=list(settings.webhook_retry_schedule_seconds),
        jitter=settings.webhook_retry_jitter,
        max_attempts=settings.webhook_max_attempts,
        disable_after=timedelta(days=settings.webhook_disable_after_days),
        overlap=timedelta(hours=settings.webhook_secret_overlap_hours),
        lease=timedelta(seconds=settings.webhook_claim_seconds),
        allow_loopback=settings.webhook_loopback_allowed,
    )


@dataclass
class WebhooksPart:
    part: ServicePart
    hooks: delivery.Webhooks
    runtime: ServiceRuntime | None = None

    def bind(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        runtime.db.on_commit(delivery.SUBSCRIPTIONS_CHANGED, self.hooks.forget_active)
        self.hooks.dispatcher.bind(
            runtime.db,
            delivery.apply_results(self.hooks),
            delivery.reclaim(self.hooks, self.db),
        )

    def db(self) -> Database:
        assert self.runtime is not None, "bind(runtime) first"
        return self.runtime.db


def build_webhooks_part(settings: NotifySettings, clock: Clock, emit: Emitter) -> WebhooksPart:
    policy = policy_of(settings)
    dispatcher = Dispatcher(
        clock=clock,
        timeout=settings.webhook_timeout_seconds,
        max_in_flight=settings.webhook_max_in_flight,
        max_in_flight_per_endpoint=settings.webhook_max_in_flight_per_endpoint,
        allow_loopback=policy.allow_loopback,
        lease=policy.lease,
    )
    box = SecretBox(parse_key(settings.webhook_secrets_key or DEVELOPMENT_KEY))
    hooks = delivery.Webhooks(policy=policy, clock=clock, emit=emit, box=box, dispatcher=dispatcher)
    handler = delivery.on_referral_event(hooks)
    built = WebhooksPart(ServicePart(), hooks)

    async def start() -> None:
        await subscriptions.provision_from_settings(
            hooks, built.db(), settings.webhook_url, settings.webhook_secret
        )
        await dispatcher.start()

    built.part = ServicePart(
        models=list(MODELS),
        subscriptions=[
            Route(
                topic=REFERRAL_TOPIC,
                purpose=CONSUMER_PURPOSE,
                routes={model: handler for model in domain.SUBSCRIBABLE.values()},
            )
        ],
        timer_handlers={delivery.WEBHOOK_TIMER: delivery.fire_delivery(hooks)},
        routers=[router],
        on_start=[start],
        on_stop=[dispatcher.stop],
    )
    return built
