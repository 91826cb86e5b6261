"""Events produced by the notify service on `notify.events` (key: delivery id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from contracts.base import Event, Id

TOPIC = "notify.events"


class NotifyEvent(Event):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "delivery_id"
    subject_field: ClassVar[str | None] = "delivery_id"
    delivery_id: Id


class WebhookDelivered(NotifyEvent):
    type_name: ClassVar[str] = "fr.relais.notify.webhook_delivered.v1"
    event_id: str = Field(description="ce_id of the event delivered")
    attempts: int = Field(ge=1)
    status_code: int


class WebhookFailed(NotifyEvent):
    type_name: ClassVar[str] = "fr.relais.notify.webhook_failed.v1"
    event_id: str
    attempts: int = Field(ge=1)
    last_error: str


class EmailSent(NotifyEvent):
    type_name: ClassVar[str] = "fr.relais.notify.email_sent.v1"
    event_id: str
    channel: str = "email"


class NotifySubscriptionEvent(Event):
    """Events about a webhook subscription (key: subscription id)."""

    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "subscription_id"
    subject_field: ClassVar[str | None] = "subscription_id"
    subscription_id: Id


class EndpointDisabled(NotifySubscriptionEvent):
    """A webhook subscription was disabled: its owner must be told (people channels route it)."""

    type_name: ClassVar[str] = "fr.relais.notify.endpoint_disabled.v1"
    reason: str = Field(description="Coded reason: failing_5_days or gone (the endpoint said 410)")
    owner_member_id: Id | None = Field(
        default=None, description="Member that owns the subscription, if a member's"
    )
    owner_network_ids: list[Id] = Field(
        default_factory=list, description="Networks of a network-level owner (operator, funder)"
    )
    owner_user_id: Id | None = Field(
        default=None, description="User who created the subscription (user:<id> subject), if any"
    )
    failing_since: datetime | None = Field(
        default=None, description="First failure of the unbroken run of failures"
    )
    last_status_code: int | None = None
