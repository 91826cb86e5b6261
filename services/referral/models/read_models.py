"""Read models of `directory.events`: the referral service never reads the directory's tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class KnownMember(SQLModel, table=True):
    __tablename__ = "referral_known_member"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)
    network_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    schemes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    commune: str | None = Field(default=None, max_length=5)


class KnownOffer(SQLModel, table=True):
    """What the send-time policies need of an offer."""

    __tablename__ = "referral_known_offer"

    id: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(index=True, max_length=64)
    title: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    status: str = Field(default="published", max_length=20)
    capacity: str = Field(default="open", max_length=20)
    stages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    territories: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    required_information: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    max_structure_age_months: int | None = None


class CommandKeyCopy(SQLModel, table=True):
    """Members' public keys for their signed Kafka commands (from `directory.events`)."""

    __tablename__ = "referral_command_key"

    id: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(index=True, max_length=64)
    public_key: str
    revoked: bool = False
