"""The porteur's own door: the public self-referral form, private links, rate-limit buckets.

A self-referral is a referral whose sender is the porteur (`SELF_REFERRAL_SENDER`), not a
member; the project is owned by the member the porteur asked. The private link's secret is
never stored: only its SHA-256, which is the row's key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from contracts.base import Id
from services.kit.db import UtcDateTime
from services.referral.models.projects import Porteur


class SelfReferralForm(SQLModel):
    """What the public orientation page sends when a porteur asks a member to contact them."""

    member_id: Id = Field(description="The member the porteur asks to be contacted by")
    offer_id: Id | None = Field(default=None, description="The offer the porteur chose, if any")
    title: str | None = Field(default=None, max_length=200, description="A few words")
    description: str | None = Field(default=None, max_length=2000)
    needs: str | None = Field(default=None, max_length=2000)
    stage: str = Field(min_length=1, max_length=40)
    commune: str = Field(regex=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE commune code")
    themes: list[str] = Field(default_factory=list, max_length=10)
    collective: bool = False
    legal_form: str | None = Field(default=None, max_length=40)
    structure_created_on: date | None = None
    porteur: Porteur
    consent: bool = Field(
        default=False, description="The consent checkbox: must be true to send anything"
    )
    consent_text_version: str = Field(default="public-2026-01", min_length=1, max_length=40)
    website: str | None = Field(
        default=None, max_length=200, description="Leave empty (a trap for robots)"
    )


class SelfReferralReceipt(SQLModel):
    reference: str = Field(description="The request's reference (its referral id)")
    link: str = Field(description="The porteur's private link: keep it, it is shown only once")
    status: str
    label: str


class PorteurLink(SQLModel, table=True):
    """A porteur's private link: the hash of its 256-bit secret -> their project."""

    __tablename__ = "referral_porteur_link"

    secret_hash: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(index=True, max_length=64)
    referral_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class SelfReferralAttempt(SQLModel, table=True):
    """One attempt on the public form, counted per bucket (keyed hash of IP or contact)."""

    __tablename__ = "referral_self_referral_attempt"

    id: int | None = Field(default=None, primary_key=True)
    bucket: str = Field(max_length=80, index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
