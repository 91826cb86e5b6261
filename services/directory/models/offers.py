"""Offers: what a member proposes, to whom, where, at which stage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from contracts.base import Territory
from services.directory.models.codes import (
    CapacityCode,
    CostCode,
    InfoCode,
    KindCode,
    LegalFormCode,
    ModeCode,
    ProjectTypeCode,
    StageCode,
    ThemeCode,
    new_id,
)
from services.kit.db import UtcDateTime


class OfferBase(SQLModel):
    title: str = Field(min_length=3, max_length=150)
    description: str = Field(default="", max_length=5000)
    kind: KindCode
    stages: list[StageCode] = Field(min_length=1)
    themes: list[ThemeCode] = Field(default_factory=list)
    project_types: list[ProjectTypeCode] = Field(
        default_factory=list, description="Empty: individual and collective projects"
    )
    legal_forms: list[LegalFormCode] = Field(default_factory=list, description="Empty: any")
    max_structure_age_months: int | None = Field(default=None, ge=0, le=1200)
    employer: bool | None = Field(default=None, description="True: employers only; None: any")
    cost: CostCode = "gratuit"
    modes_accueil: list[ModeCode] = Field(default_factory=lambda: ["en_presentiel"])
    capacity: CapacityCode = "open"
    required_information: list[InfoCode] = Field(default_factory=list)
    url: str | None = Field(default=None, max_length=300)
    contact_email: str | None = Field(default=None, max_length=200)


class OfferCreate(OfferBase):
    member_id: str
    territories: list[Territory] = Field(min_length=1)


class OfferUpdate(SQLModel):
    """Every field optional: only what is sent changes."""

    title: str | None = Field(default=None, min_length=3, max_length=150)
    description: str | None = Field(default=None, max_length=5000)
    kind: KindCode | None = None
    stages: list[StageCode] | None = None
    themes: list[ThemeCode] | None = None
    project_types: list[ProjectTypeCode] | None = None
    legal_forms: list[LegalFormCode] | None = None
    max_structure_age_months: int | None = Field(default=None, ge=0, le=1200)
    employer: bool | None = None
    cost: CostCode | None = None
    modes_accueil: list[ModeCode] | None = None
    capacity: CapacityCode | None = None
    required_information: list[InfoCode] | None = None
    url: str | None = Field(default=None, max_length=300)
    contact_email: str | None = Field(default=None, max_length=200)
    territories: list[Territory] | None = None


class Offer(OfferBase, table=True):
    __tablename__ = "directory_offer"

    id: str = Field(default_factory=lambda: new_id("off"), primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="directory_member.id", index=True, max_length=64)
    kind: str = Field(max_length=40, index=True)
    stages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    project_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    legal_forms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cost: str = Field(default="gratuit", max_length=20)
    modes_accueil: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capacity: str = Field(default="open", max_length=20)
    required_information: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="published", max_length=20)  # published | withdrawn
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class OfferTerritory(SQLModel, table=True):
    """Where an offer applies: (level, code) pairs, indexed for lookups by territory."""

    __tablename__ = "directory_offer_territory"

    offer_id: str = Field(foreign_key="directory_offer.id", primary_key=True, max_length=64)
    level: str = Field(primary_key=True, max_length=12)
    code: str = Field(primary_key=True, max_length=12, index=True)


class OfferPublic(OfferBase):
    id: str
    member_id: str
    territories: list[Territory]
    status: str
    updated_at: datetime
    stale: bool = Field(default=False, description="Not updated for 6 months")
