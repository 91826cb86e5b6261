"""Notify's people channels: routing rules, preferences, email, digests, in-app and member feeds.

See docs/services/notify-people.md. Its own consumer group (purpose `people`), so a slow SMTP
relay never stalls webhooks; its timers are the `notify.people.*` kinds.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from contracts.registry import REGISTRY
from services.directory.geo import load as load_geography
from services.kit.clock import Clock
from services.kit.consumer import Handler, Subscription
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.notify.people.api import router
from services.notify.people.handlers import DIGEST_TIMER, EMAIL_TIMER, PeopleDeps, on_event
from services.notify.people.lookups import AddressBook
from services.notify.people.mailer import Mailer, SmtpConfig
from services.notify.people.models import MODELS
from services.notify.people.rules import RULES
from services.notify.people.sending import Sender, send_digest, send_one
from services.notify.people.topics import FeedTopics
from services.notify.settings import NotifySettings

PURPOSE = "people"


def subscriptions(deps: PeopleDeps) -> list[Subscription]:
    """One subscription per topic carrying a routed type, all in the `people` group."""
    handler: Handler = on_event(deps)
    by_topic: dict[str, dict[type, Handler]] = {}
    for type_name in RULES:
        spec = REGISTRY.get(type_name)
        if spec is not None:  # a rule may wait for its type to land in contracts/
            by_topic.setdefault(spec.topic, {})[spec.model] = handler
    return [
        Subscription(topic=topic, purpose=PURPOSE, routes=routes)
        for topic, routes in sorted(by_topic.items())
    ]


def build_people_part(settings: NotifySettings, clock: Clock, emit: Emitter) -> ServicePart:
    """Everything notify tells people (not partner systems)."""
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        # Built lazily inside the running event loop; closed when the app stops.
        if not clients:
            clients.append(httpx.AsyncClient(timeout=10.0))
        return clients[0]

    async def close() -> None:
        for c in clients:
            await c.aclose()
        clients.clear()

    public = settings.public_base_url.rstrip("/")
    deps = PeopleDeps(
        topics=FeedTopics(
            settings.kafka_bootstrap_servers,
            enabled=settings.create_feed_topics,
            partitions=settings.feed_topic_partitions,
        ),
        geo=load_geography,
        public_base_url=public,
        digest_hour=settings.digest_hour,
    )
    sender = Sender(
        mailer=Mailer(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                user=settings.smtp_user,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            ),
            settings.mail_from,
        ),
        book=AddressBook(
            directory_url=settings.effective_directory_url,
            directory_key=settings.directory_internal_key,
            referral_url=settings.referral_url.rstrip("/"),
            referral_key=settings.referral_internal_key,
            client=client,
        ),
        emit=emit,
        geo=load_geography,
        public_base_url=public,
        notify_base_url=settings.base_url.rstrip("/"),
        unsubscribe_secret=settings.unsubscribe_secret,
        message_domain=urlsplit(public).hostname or "relais.localhost",
        max_attempts=settings.email_max_attempts,
    )
    return ServicePart(
        models=list(MODELS),
        subscriptions=subscriptions(deps),
        timer_handlers={EMAIL_TIMER: send_one(sender), DIGEST_TIMER: send_digest(sender)},
        routers=[router],
        on_start=[preload_geography],
        on_stop=[close],
    )


async def preload_geography() -> None:
    """Read the communes (about 0.7 s of CSV) at start-up, off the event loop, rather than
    inside the first event's handler."""
    await asyncio.to_thread(load_geography)
