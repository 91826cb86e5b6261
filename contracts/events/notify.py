"""Events produced by the notify service on `notify.events` (key: delivery id)."""

from __future__ import annotations

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
