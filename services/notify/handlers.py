"""Notify use cases: record deliveries when events arrive, send them from durable timers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.notify import WebhookDelivered, WebhookFailed
from contracts.events.referral import ReferralSent
from services.kit.consumer import HandlerContext
from services.kit.timers import Fired, TimerHandler, schedule
from services.notify import domain
from services.notify.models import Delivery
from services.notify.webhooks import send_signed

log = logging.getLogger("relais.notify")
Emit = Callable[[AsyncSession, Event], CloudEvent]
WEBHOOK_TIMER = "notify.webhook"


@dataclass
class WebhookTarget:
    """The walking skeleton's single endpoint (subscriptions come with the notify issue)."""

    url: str | None
    secret: str
    max_attempts: int


def on_referral_sent(
    target: WebhookTarget,
) -> Callable[[ReferralSent, HandlerContext], Awaitable[None]]:
    async def handle(_evt: ReferralSent, ctx: HandlerContext) -> None:
        if target.url is None:
            return
        await record_delivery(ctx.session, ctx.envelope, target.url, ctx)

    return handle


async def record_delivery(
    session: AsyncSession, envelope: CloudEvent, url: str, ctx: HandlerContext
) -> Delivery:
    delivery = Delivery(
        id=domain.delivery_id(envelope.id, url),
        url=url,
        event_id=envelope.id,
        event_type=envelope.type,
        payload=domain.webhook_payload(envelope),
        created_at=ctx.clock.now(),
    )
    session.add(delivery)
    await schedule(
        session,
        kind=WEBHOOK_TIMER,
        key=delivery.id,
        due_at=ctx.clock.now(),
        payload={"delivery_id": delivery.id},
    )
    return delivery


def deliver_webhook(
    target: WebhookTarget, client: Callable[[], httpx.AsyncClient], emit: Emit
) -> TimerHandler:
    async def fire(fired: Fired) -> None:
        session, now = fired.session, fired.clock.now()
        delivery = await session.get(Delivery, fired.timer.payload["delivery_id"])
        if delivery is None or delivery.status != "pending":
            return
        attempt = await send_signed(
            client(),
            url=delivery.url,
            secret=target.secret,
            message_id=delivery.id,
            payload=delivery.payload,
            now=now,
        )
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = attempt.status_code, attempt.error
        if attempt.ok:
            delivery.status, delivery.delivered_at = "delivered", now
            log.info(
                "webhook %s delivered to %s (attempt %d)",
                delivery.id,
                delivery.url,
                delivery.attempts,
            )
            emit(
                session,
                WebhookDelivered(
                    delivery_id=delivery.id,
                    event_id=delivery.event_id,
                    attempts=delivery.attempts,
                    status_code=attempt.status_code or 0,
                ),
            )
        elif delivery.attempts >= target.max_attempts:
            delivery.status = "failed"
            log.warning("webhook %s failed for good: %s", delivery.id, attempt.error)
            emit(
                session,
                WebhookFailed(
                    delivery_id=delivery.id,
                    event_id=delivery.event_id,
                    attempts=delivery.attempts,
                    last_error=attempt.error or "",
                ),
            )
        else:
            # Retry later on the same durable timer, with the same webhook-id.
            await schedule(
                session,
                kind=WEBHOOK_TIMER,
                key=delivery.id,
                due_at=now + retry_delay(delivery.attempts),
                payload={"delivery_id": delivery.id},
            )
        session.add(delivery)

    return fire


RETRY_SCHEDULE_SECONDS = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


def retry_delay(attempts: int) -> timedelta:
    """Standard Webhooks-like schedule; the notify issue adds jitter and Retry-After."""
    return timedelta(seconds=RETRY_SCHEDULE_SECONDS[min(attempts, len(RETRY_SCHEDULE_SECONDS) - 1)])
