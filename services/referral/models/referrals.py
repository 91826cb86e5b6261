"""Referrals, their transitions (the journey's history), messages and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from contracts.base import Id
from services.kit.db import UtcDateTime
from services.referral.models.ids import new_id


class ReferralCreate(SQLModel):
    project_id: Id
    receiver_member_id: Id
    offer_id: Id | None = None
    message: str | None = Field(
        default=None, max_length=5000, description="Sealed with the project"
    )


class Referral(SQLModel, table=True):
    __tablename__ = "referral_referral"

    id: str = Field(default_factory=lambda: new_id("ref"), primary_key=True, max_length=64)
    project_id: str = Field(index=True, max_length=64)
    sender_member_id: str = Field(index=True, max_length=64)
    receiver_member_id: str = Field(index=True, max_length=64)
    offer_id: str | None = Field(default=None, max_length=64)
    network_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="sent", max_length=20, index=True)
    version: int = 1
    assignee_user_id: str | None = Field(default=None, max_length=64, index=True)
    redirected_from: str | None = Field(default=None, max_length=64)
    redirected_to: str | None = Field(default=None, max_length=64)
    stage: str = Field(max_length=40)
    commune: str = Field(max_length=5)
    decline_reason: str | None = Field(default=None, max_length=40)
    failure_reason: str | None = Field(default=None, max_length=40)
    outcome: str | None = Field(default=None, max_length=40)
    jobs_created: int | None = None
    funding_amount_eur: int | None = None
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expiry_remaining_seconds: int | None = Field(
        default=None, description="Set while info is requested: the expiry clock is stopped"
    )
    sent_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ReferralPublic(SQLModel):
    id: str
    project_id: str
    sender_member_id: str
    receiver_member_id: str
    offer_id: str | None
    status: str
    version: int
    assignee_user_id: str | None
    redirected_from: str | None
    redirected_to: str | None
    stage: str
    commune: str
    decline_reason: str | None
    failure_reason: str | None
    outcome: str | None
    jobs_created: int | None
    funding_amount_eur: int | None
    warnings: list[str]
    sent_at: datetime
    updated_at: datetime
    allowed_actions: list[str] = Field(default_factory=list)


class TransitionRecord(SQLModel, table=True):
    """One step of a referral: the journey's timeline is made of these."""

    __tablename__ = "referral_transition"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(index=True, max_length=64)
    project_id: str = Field(index=True, max_length=64)
    action: str = Field(max_length=30)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    actor_member_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Message(SQLModel, table=True):
    __tablename__ = "referral_message"

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True, max_length=64)
    referral_id: str = Field(index=True, max_length=64)
    project_id: str = Field(max_length=64)
    author_member_id: str = Field(max_length=64)
    author: str = Field(max_length=200)
    sealed_body: str | None
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MessagePublic(SQLModel):
    id: str
    referral_id: str
    author_member_id: str
    author: str
    body: str | None
    at: datetime


class IdempotencyRecord(SQLModel, table=True):
    """A POST's Idempotency-Key, remembered 24 hours with the answer given."""

    __tablename__ = "referral_idempotency"
    __table_args__ = (UniqueConstraint("principal", "key", name="uq_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=200)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
