"""Webhook use cases: fan an event out to its subscriptions, fire a delivery's timer, record
an attempt's result, replay by hand.

The rule of the kit holds: the handler records what must happen and schedules a durable
timer in its transaction; the HTTP call happens outside it (the dispatcher), with the stable
`webhook-id`. The fast path only saves the timer's wait.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.notify import EndpointDisabled, WebhookDelivered, WebhookFailed
from contracts.events.referral import ReferralEvent, ReferralSent
from services.kit.clock import Clock
from services.kit.consumer import HandlerContext
from services.kit.db import Database, mark_dirty, stage_insert, table_of
from services.kit.errors import ApiError
from services.kit.timers import Fired, TimerHandler, TimerRecord, schedule
from services.notify.webhooks import domain
from services.notify.webhooks.dispatcher import Dispatcher, Job, Result, wall_now
from services.notify.webhooks.models import Attempt, Delivery, ReferralFact, Subscription
from services.notify.webhooks.secrets import SecretBox

log = logging.getLogger("relais.notify.webhooks")
Emit = Callable[[AsyncSession, Event], CloudEvent]
WEBHOOK_TIMER = "notify.webhook"
SUBSCRIPTIONS_CHANGED = "notify.webhooks.subscriptions"  # a kit.db.mark_dirty key
ACTIVE_TTL = 1.0  # seconds an instance keeps its list of active subscriptions


@event.listens_for(Session, "before_flush")
def _subscriptions_touched(session: Session, _context: Any, _instances: Any) -> None:
    """Any subscription written: its process forgets its active list once this commits."""
    touched = (
        *session.new,
        *session.deleted,
        *(o for o in session.dirty if session.is_modified(o)),  # a value really changed
    )
    if any(isinstance(obj, Subscription) for obj in touched):
        mark_dirty(session, SUBSCRIPTIONS_CHANGED)


ATTEMPT_TABLE = table_of(Attempt)
DELIVERY_TABLE = table_of(Delivery)


@dataclass
class Policy:
    schedule: list[float]
    jitter: float
    max_attempts: int
    disable_after: timedelta
    overlap: timedelta
    lease: timedelta
    allow_loopback: bool


@dataclass
class Webhooks:
    """What every webhook use case shares: policy, clock, outbox, secrets, the dispatcher."""

    policy: Policy
    clock: Clock
    emit: Emit
    box: SecretBox
    dispatcher: Dispatcher
    rng: random.Random = field(default_factory=random.Random)
    _opened: dict[tuple[str, str], str] = field(default_factory=dict)
    _active: tuple[float, list[Subscription]] | None = None
    _generation: int = 0  # bumped by forget_active: a read that started before is not kept

    # --- active subscriptions, read once for many events -------------------------------------
    async def active_subscriptions(self, session: AsyncSession) -> list[Subscription]:
        """Every active subscription, as of at most ACTIVE_TTL seconds ago. A change committed
        by this process clears it at once (`forget_active`, on commit); another instance's
        change shows within the TTL (a rotated secret: the previous one stays valid for the
        overlap). The rows are read-only copies: never change them."""
        now, generation = time.monotonic(), self._generation
        if self._active is not None and now - self._active[0] < ACTIVE_TTL:
            return self._active[1]
        rows = list(
            (await session.exec(select(Subscription).where(Subscription.status == "active"))).all()
        )
        for row in rows:
            session.expunge(row)  # copies of this moment, outside any session
        if generation == self._generation:  # no change committed while the query ran
            self._active = (now, rows)
        return rows

    def forget_active(self) -> None:
        self._active = None
        self._generation += 1

    # --- secrets ------------------------------------------------------------------------------
    def _open(self, sub_id: str, sealed: str) -> str:
        secret = self._opened.get((sub_id, sealed))
        if secret is None:
            secret = self._opened[(sub_id, sealed)] = self.box.open(sub_id, sealed)
        return secret

    def signing_secrets(self, sub: Subscription, now: datetime) -> tuple[str, ...]:
        """The current secret, plus the previous one during a rotation's overlap."""
        secrets = [self._open(sub.id, sub.secret_sealed)]
        if (
            sub.previous_secret_sealed
            and sub.previous_secret_expires_at is not None
            and sub.previous_secret_expires_at > now
        ):
            secrets.append(self._open(sub.id, sub.previous_secret_sealed))
        return tuple(secrets)

    # --- claims -------------------------------------------------------------------------------
    def claim(self, delivery: Delivery) -> str:
        token = uuid.uuid4().hex
        delivery.claim_token, delivery.claimed_until = token, wall_now() + self.policy.lease
        return token

    def job(self, delivery: Delivery, sub: Subscription, token: str) -> Job:
        return Job(
            delivery_id=delivery.id,
            subscription_id=sub.id,
            url=sub.url,
            secrets=self.signing_secrets(sub, self.clock.now()),
            payload=delivery.payload,
            claim_token=token,
        )

    async def arm(
        self, session: AsyncSession, delivery_id: str, due_at: datetime, *, new: bool = False
    ) -> None:
        await schedule(
            session,
            kind=WEBHOOK_TIMER,
            key=delivery_id,
            due_at=due_at,
            payload={"delivery_id": delivery_id},
            new_key=new,
        )


# --- fan-out: one referral event -> its deliveries ---------------------------------------
async def referral_facts(session: AsyncSession, evt: ReferralEvent) -> domain.ReferralFacts:
    if isinstance(evt, ReferralSent):
        fact = await session.get(ReferralFact, evt.referral_id)
        if fact is None:
            session.add(ReferralFact(referral_id=evt.referral_id, network_id=evt.network_id))
        elif fact.network_id != evt.network_id:
            fact.network_id = evt.network_id
            session.add(fact)
        network_id = evt.network_id
    else:
        fact = await session.get(ReferralFact, evt.referral_id)
        network_id = fact.network_id if fact is not None else None
    return domain.ReferralFacts(evt.sender_member_id, evt.receiver_member_id, network_id)


def wanted(sub: Subscription, envelope: CloudEvent, facts: domain.ReferralFacts) -> bool:
    if sub.event_types and envelope.type not in sub.event_types:
        return False
    if envelope.time < sub.created_at:
        return False  # a new subscription does not receive history
    return domain.may_receive(sub.owner, sub.network_ids, facts)


def on_referral_event(
    hooks: Webhooks,
) -> Callable[[ReferralEvent, HandlerContext], Awaitable[None]]:
    async def handle(evt: ReferralEvent, ctx: HandlerContext) -> None:
        session, envelope = ctx.session, ctx.envelope
        facts = await referral_facts(session, evt)
        active = await hooks.active_subscriptions(session)
        targets = {
            domain.delivery_id(envelope.id, sub.id): sub
            for sub in active
            if wanted(sub, envelope, facts)
        }
        if not targets:
            return
        known = set(
            (
                await session.exec(select(Delivery.id).where(col(Delivery.id).in_(list(targets))))
            ).all()
        )
        payload = domain.webhook_payload(envelope, facts.network_id)
        now, jobs = ctx.clock.now(), []
        for delivery_id, sub in targets.items():
            if delivery_id in known:
                continue  # the same event again: same webhook-id, nothing new to send
            token = uuid.uuid4().hex
            stage_insert(  # a Core row: no ORM object to build and flush per delivery
                session,
                DELIVERY_TABLE,
                {
                    "id": delivery_id,
                    "subscription_id": sub.id,
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "status": "pending",
                    "attempts": 0,
                    "payload": payload,
                    "round_start": 0,
                    "next_attempt_at": now,
                    "claim_token": token,
                    "claimed_until": wall_now() + hooks.policy.lease,
                    "created_at": now,
                },
            )
            # The safety net: if this process dies before the fast path sends, the timer does.
            await hooks.arm(session, delivery_id, now + hooks.policy.lease, new=True)
            jobs.append(
                Job(
                    delivery_id=delivery_id,
                    subscription_id=sub.id,
                    url=sub.url,
                    secrets=hooks.signing_secrets(sub, now),
                    payload=payload,
                    claim_token=token,
                )
            )
        hooks.dispatcher.submit_after_commit(session, jobs)

    return handle


# --- the durable timer: retries and the safety net --------------------------------------------
def fire_delivery(hooks: Webhooks) -> TimerHandler:
    async def fire(fired: Fired) -> None:
        session, now = fired.session, fired.clock.now()
        delivery = await session.get(Delivery, fired.timer.payload["delivery_id"])
        if delivery is None or delivery.status != "pending":
            return
        sub = await session.get(Subscription, delivery.subscription_id)
        if sub is None or sub.status != "active":
            delivery.status, delivery.next_attempt_at = "failed", None
            delivery.last_error = "abonnement désactivé ou supprimé : rien n'est envoyé"
            session.add(delivery)
            return
        wall = wall_now()
        if delivery.claimed_until is not None and delivery.claimed_until > wall:
            # A send is in flight (here or on another instance): look again once its lease ends.
            await hooks.arm(session, delivery.id, now + (delivery.claimed_until - wall))
            return
        token = hooks.claim(delivery)
        session.add(delivery)
        await hooks.arm(session, delivery.id, now + hooks.policy.lease)
        hooks.dispatcher.submit_after_commit(session, [hooks.job(delivery, sub, token)])

    return fire


def reclaim(hooks: Webhooks, db: Callable[[], Database]) -> Callable[[str, str], Awaitable[bool]]:
    async def renew(delivery_id: str, token: str) -> bool:
        async with db().transaction() as session:
            result = await session.exec(
                update(Delivery)  # type: ignore[call-overload]
                .where(
                    col(Delivery.id) == delivery_id,
                    col(Delivery.claim_token) == token,
                    col(Delivery.status) == "pending",
                )
                .values(claimed_until=wall_now() + hooks.policy.lease)
            )
            return bool(result.rowcount)

    return renew


# --- results ----------------------------------------------------------------------------------
def apply_results(hooks: Webhooks) -> Callable[[AsyncSession, list[Result]], Awaitable[None]]:
    async def apply(session: AsyncSession, results: list[Result]) -> None:
        ids = [r.job.delivery_id for r in results]
        deliveries = {
            d.id: d
            for d in (await session.exec(select(Delivery).where(col(Delivery.id).in_(ids)))).all()
        }
        sub_ids = {d.subscription_id for d in deliveries.values()}
        subs = {
            s.id: s
            for s in (
                await session.exec(select(Subscription).where(col(Subscription.id).in_(sub_ids)))
            ).all()
        }
        now, finished = hooks.clock.now(), []
        for result in results:
            delivery = deliveries.get(result.job.delivery_id)
            if delivery is None:
                continue
            outcome = record_attempt(
                hooks, session, delivery, subs.get(delivery.subscription_id), result, now
            )
            if outcome != "retry":
                finished.append(delivery.id)
            session.add(delivery)
        for sub in subs.values():
            session.add(sub)
        if finished:
            await session.exec(
                update(TimerRecord)  # type: ignore[call-overload]
                .where(
                    col(TimerRecord.kind) == WEBHOOK_TIMER,
                    col(TimerRecord.key).in_(finished),
                    col(TimerRecord.state) == "pending",
                )
                .values(state="cancelled")
            )
        for delivery_id in ids:
            delivery = deliveries.get(delivery_id)
            if delivery is not None and delivery.status == "pending" and delivery.next_attempt_at:
                await hooks.arm(session, delivery.id, delivery.next_attempt_at)

    return apply


def record_attempt(
    hooks: Webhooks,
    session: AsyncSession,
    delivery: Delivery,
    sub: Subscription | None,
    result: Result,
    now: datetime,
) -> str:
    """Update the delivery (and its subscription) after one attempt; return the log outcome."""
    outcome = result.outcome
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
    if delivery.claim_token == result.job.claim_token:
        delivery.claim_token, delivery.claimed_until = None, None
    if delivery.status != "pending":
        verdict = "delivered" if outcome.ok else "late"  # sent twice after a lost lease
    elif outcome.ok:
        verdict = "delivered"
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        if sub is not None:
            sub.failing_since = None
        hooks.emit(
            session,
            WebhookDelivered(
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                attempts=delivery.attempts,
                status_code=outcome.status_code or 0,
            ),
        )
        log.info(
            "webhook %s delivered to %s (attempt %d)",
            delivery.id,
            delivery.subscription_id,
            delivery.attempts,
        )
    else:
        verdict = _failed_attempt(hooks, session, delivery, sub, result, now)
    stage_insert(  # a Core row: the log is written on the hot path, no ORM object needed
        session,
        ATTEMPT_TABLE,
        {
            "delivery_id": delivery.id,
            "number": delivery.attempts,
            "at": result.at,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "response_excerpt": outcome.excerpt,
            "error": outcome.error,
            "outcome": verdict,
        },
    )
    return "retry" if verdict == "retry" else "done"


def _failed_attempt(
    hooks: Webhooks,
    session: AsyncSession,
    delivery: Delivery,
    sub: Subscription | None,
    result: Result,
    now: datetime,
) -> str:
    policy, outcome = hooks.policy, result.outcome
    if sub is not None and sub.failing_since is None:
        sub.failing_since = result.at
    gone = outcome.status_code == 410
    stale = sub is not None and domain.endpoint_should_be_disabled(
        sub.failing_since, now, policy.disable_after
    )
    if sub is not None and sub.status == "active" and (gone or stale):
        disable(hooks, session, sub, "gone" if gone else "failing_5_days", outcome.status_code, now)
    round_attempts = delivery.attempts - delivery.round_start
    if gone or stale or round_attempts >= policy.max_attempts:
        delivery.status, delivery.next_attempt_at = "failed", None
        hooks.emit(
            session,
            WebhookFailed(
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                attempts=delivery.attempts,
                last_error=outcome.error or "",
            ),
        )
        log.warning("webhook %s failed for good: %s", delivery.id, outcome.error)
        return "gone" if gone else "failed"
    delay = domain.retry_delay(
        round_attempts,
        policy.schedule,
        jitter=policy.jitter,
        draw=hooks.rng.random(),
        retry_after=domain.parse_retry_after(outcome.retry_after, now),
    )
    delivery.next_attempt_at = now + delay
    return "retry"


def disable(
    hooks: Webhooks,
    session: AsyncSession,
    sub: Subscription,
    reason: str,
    status_code: int | None,
    now: datetime,
) -> None:
    sub.status, sub.disabled_reason, sub.updated_at = "disabled", reason, now
    log.warning("webhook subscription %s disabled (%s)", sub.id, reason)
    hooks.emit(
        session,
        EndpointDisabled(
            subscription_id=sub.id,
            reason=reason,
            owner_member_id=sub.owner_member_id,
            owner_network_ids=sub.owner_network_ids,
            owner_user_id=_user_id(sub.created_by),
            failing_since=sub.failing_since,
            last_status_code=status_code,
        ),
    )


def _user_id(subject: str | None) -> str | None:
    if subject and subject.startswith("user:"):
        return subject.removeprefix("user:")[:64] or None
    return None


# --- replay by hand ---------------------------------------------------------------------------
async def replay(hooks: Webhooks, session: AsyncSession, delivery: Delivery) -> Delivery:
    """A failed (or delivered) delivery again, same webhook-id, a new round of attempts."""
    if delivery.status == "pending":
        raise ApiError(409, "conflict", reason="cette livraison est encore en cours d'envoi")
    sub = await session.get(Subscription, delivery.subscription_id)
    if sub is None or sub.status != "active":
        raise ApiError(
            409, "conflict", reason="l'abonnement est désactivé : réactivez-le avant de rejouer"
        )
    now = hooks.clock.now()
    delivery.status, delivery.round_start = "pending", delivery.attempts
    delivery.next_attempt_at, delivery.delivered_at = now, None
    token = hooks.claim(delivery)
    session.add(delivery)
    await hooks.arm(session, delivery.id, now + hooks.policy.lease)
    hooks.dispatcher.submit_after_commit(session, [hooks.job(delivery, sub, token)])
    await session.commit()
    log.info("webhook %s replayed by hand", delivery.id)
    return delivery
