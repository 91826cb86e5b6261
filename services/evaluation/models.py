"""Evaluation tables: the archive of consumed events (the source for rebuilds) and projections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


class ArchivedEvent(SQLModel, table=True):
    """Every event the service consumed, so projections can be rebuilt without the broker."""

    __tablename__ = "evaluation_event_archive"

    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=200, index=True)
    key: str | None = Field(default=None, max_length=200)
    time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MemberReferralCount(SQLModel, table=True):
    """Projection: referrals sent and received per member."""

    __tablename__ = "evaluation_member_referrals"

    member_id: str = Field(primary_key=True, max_length=64)
    sent: int = 0
    received: int = 0


class MemberReferralCountPublic(SQLModel):
    member_id: str
    sent: int
    received: int


class IndicatorSummary(SQLModel):
    referrals_sent: int
    by_member: list[MemberReferralCountPublic]
