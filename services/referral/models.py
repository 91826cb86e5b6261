"""Referral tables, the local read model of directory members, and API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from contracts.base import Id
from services.kit.db import UtcDateTime


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class KnownMember(SQLModel, table=True):
    """Read model of `directory.events`: this service never reads the directory's tables."""

    __tablename__ = "referral_known_member"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)
    network_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ProjectFacts(SQLModel):
    """Non-identifying facts about the porteur's project (these may travel in events)."""

    stage: str = Field(min_length=1, max_length=40)
    commune: str = Field(regex=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE commune code")
    themes: list[str] = Field(default_factory=list, max_length=20)


class ReferralBase(SQLModel):
    receiver_member_id: Id
    offer_id: Id | None = None


class ReferralCreate(ReferralBase):
    project: ProjectFacts


class Referral(ReferralBase, table=True):
    __tablename__ = "referral_referral"

    id: str = Field(default_factory=lambda: new_id("ref"), primary_key=True, max_length=64)
    project_id: str = Field(index=True, max_length=64)
    sender_member_id: str = Field(index=True, max_length=64)
    receiver_member_id: str = Field(index=True, max_length=64)
    status: str = Field(default="sent", max_length=20)
    stage: str = Field(max_length=40)
    commune: str = Field(max_length=5)
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ReferralPublic(ReferralBase):
    id: str
    project_id: str
    sender_member_id: str
    status: str
    stage: str
    commune: str
    themes: list[str]
    version: int
    created_at: datetime
