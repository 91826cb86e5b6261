"""Webhook tables (subscriptions, deliveries, attempts, referral facts) and API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime
from services.notify.webhooks.domain import Scope


def new_subscription_id() -> str:
    return "sub_" + uuid.uuid4().hex[:24]


# --- subscriptions ----------------------------------------------------------------------------
class SubscriptionBase(SQLModel):
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    network_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    description: str | None = Field(default=None, max_length=200)


class Subscription(SubscriptionBase, table=True):
    """A partner's endpoint: what it receives, never wider than its owner may read."""

    __tablename__ = "notify_webhook_subscription"

    id: str = Field(default_factory=new_subscription_id, primary_key=True, max_length=64)
    status: str = Field(default="active", max_length=20, index=True)  # active|disabled|deleted
    disabled_reason: str | None = Field(default=None, max_length=40)
    owner_kind: str = Field(max_length=20)  # member | network | platform
    owner_member_id: str | None = Field(default=None, max_length=64, index=True)
    owner_network_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_by: str | None = Field(default=None, max_length=200)
    secret_sealed: str = Field(max_length=400)
    previous_secret_sealed: str | None = Field(default=None, max_length=400)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    failing_since: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))

    @property
    def owner(self) -> Scope:
        return Scope(
            self.owner_kind,  # type: ignore[arg-type]
            member_id=self.owner_member_id,
            network_ids=tuple(self.owner_network_ids),
        )


class SubscriptionCreate(SQLModel):
    url: str = Field(max_length=2000)
    event_types: list[str] | None = Field(
        default=None,
        description="Types to receive (see GET /v1/subscriptions/event-types); absent: all of them",
    )
    network_ids: list[str] | None = Field(
        default=None,
        description="Only referrals of these networks (a network owner: its own "
        "by default, never others)",
    )
    description: str | None = Field(default=None, max_length=200)
    secret: str | None = Field(
        default=None, description="Your own `whsec_` secret; absent: one is generated"
    )


class SubscriptionUpdate(SQLModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = None
    network_ids: list[str] | None = None
    description: str | None = Field(default=None, max_length=200)
    status: Literal["active", "disabled"] | None = None


class SubscriptionOwner(SQLModel):
    kind: str
    member_id: str | None
    network_ids: list[str]


class SubscriptionPublic(SubscriptionBase):
    id: str
    status: str
    disabled_reason: str | None
    owner: SubscriptionOwner
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionPublic:
        return cls(
            id=sub.id,
            url=sub.url,
            event_types=sub.event_types,
            network_ids=sub.network_ids,
            description=sub.description,
            status=sub.status,
            disabled_reason=sub.disabled_reason,
            owner=SubscriptionOwner(
                kind=sub.owner_kind,
                member_id=sub.owner_member_id,
                network_ids=sub.owner_network_ids,
            ),
            failing_since=sub.failing_since,
            previous_secret_expires_at=sub.previous_secret_expires_at,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
        )


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="Shown once: keep it to verify the signatures")


class SecretRotate(SQLModel):
    secret: str | None = Field(default=None, description="Your own new secret; absent: generated")
    overlap_hours: float | None = Field(
        default=None,
        ge=0,
        le=168,
        description="How long the old secret still signs too (default NOTIFY_WEBHOOK_SECRET_"
        "OVERLAP_HOURS)",
    )


class SecretRotated(SQLModel):
    subscription_id: str
    secret: str
    previous_secret_expires_at: datetime | None


# --- deliveries -------------------------------------------------------------------------------
class DeliveryBase(SQLModel):
    subscription_id: str = Field(max_length=64, index=True)
    event_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=200, index=True)
    status: str = Field(default="pending", max_length=20, index=True)  # pending|delivered|failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)


class Delivery(DeliveryBase, table=True):
    """One event to one subscription. Its id is the stable `webhook-id`."""

    __tablename__ = "notify_webhook_delivery"

    id: str = Field(primary_key=True, max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    round_start: int = 0  # attempts made before the current round (a replay starts one)
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    # A send in progress: who holds it and until when (wall time: a process lease, not
    # business time), so two instances, or a timer and the fast path, never send it together.
    claim_token: str | None = Field(default=None, max_length=40)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class DeliveryPublic(DeliveryBase):
    id: str
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class AttemptPublic(SQLModel):
    number: int
    at: datetime
    status_code: int | None
    duration_ms: float
    response_excerpt: str | None
    error: str | None
    outcome: str


class Attempt(SQLModel, table=True):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "notify_webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=64, index=True)
    number: int
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status_code: int | None = None
    duration_ms: float = 0.0
    response_excerpt: str | None = Field(default=None, max_length=600)
    error: str | None = Field(default=None, max_length=500)
    outcome: str = Field(max_length=20)  # delivered | retry | failed | gone


class DeliveryDetail(DeliveryPublic):
    payload: dict[str, Any]
    log: list[AttemptPublic]


# --- what notify knows of referrals -------------------------------------------------------------
class ReferralFact(SQLModel, table=True):
    """Which network a referral belongs to (only `referral.sent` says): later events of the
    referral reach network-level subscriptions through it."""

    __tablename__ = "notify_referral_fact"

    referral_id: str = Field(primary_key=True, max_length=64)
    network_id: str | None = Field(default=None, max_length=64)


MODELS: list[type[SQLModel]] = [Subscription, Delivery, Attempt, ReferralFact]
