"""Projects (the porteur's journey), their sealed personal data, keys and consents."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import EmailStr
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime
from services.referral.models.ids import new_id


class Porteur(SQLModel):
    """Who the project belongs to. Never leaves this service unsealed, never in an event."""

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=30)


class ProjectFacts(SQLModel):
    """Non-identifying facts: these may travel in events."""

    stage: str = Field(min_length=1, max_length=40)
    commune: str = Field(regex=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE commune code")
    themes: list[str] = Field(default_factory=list, max_length=20)
    collective: bool = False
    legal_form: str | None = Field(default=None, max_length=40)
    structure_created_on: date | None = None
    employees: int | None = Field(default=None, ge=0)
    budget_eur: int | None = Field(default=None, ge=0)
    external_ref: str | None = Field(default=None, max_length=100)


class ProjectCreate(ProjectFacts):
    title: str = Field(min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    needs: str | None = Field(default=None, max_length=2000)
    porteur: Porteur


class Project(SQLModel, table=True):
    __tablename__ = "referral_project"

    id: str = Field(default_factory=lambda: new_id("prj"), primary_key=True, max_length=64)
    owner_member_id: str = Field(index=True, max_length=64)
    stage: str = Field(max_length=40)
    commune: str = Field(max_length=5, index=True)
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    collective: bool = False
    legal_form: str | None = Field(default=None, max_length=40)
    structure_created_on: date | None = None
    employees: int | None = None
    budget_eur: int | None = None
    external_ref: str | None = Field(default=None, max_length=100)
    present_information: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Codes of the information the file holds (policies check them)",
    )
    sealed: str | None = Field(default=None, description="title, description, needs, porteur")
    erased_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ProjectKey(SQLModel, table=True):
    """The project's data key, sealed by the master key. Deleting it erases the project."""

    __tablename__ = "referral_project_key"

    project_id: str = Field(primary_key=True, max_length=64)
    sealed_key: str


class ProjectPublic(ProjectFacts):
    id: str
    owner_member_id: str
    title: str | None = Field(description="None once erased or when not shared with you")
    description: str | None = None
    needs: str | None = None
    porteur: Porteur | None = None
    erased: bool = False
    created_at: datetime


class ConsentCreate(SQLModel):
    text_version: str = Field(min_length=1, max_length=40)
    scopes: list[str] = Field(min_length=1)
    collected_by: str | None = Field(default=None, max_length=200, description="Who collected it")
    collected_at: datetime | None = None


class Consent(SQLModel, table=True):
    __tablename__ = "referral_consent"

    id: str = Field(default_factory=lambda: new_id("cns"), primary_key=True, max_length=64)
    project_id: str = Field(index=True, max_length=64)
    text_version: str = Field(max_length=40)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    collected_by: str = Field(max_length=200)
    collected_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ConsentPublic(SQLModel):
    id: str
    project_id: str
    text_version: str
    scopes: list[str]
    collected_by: str
    collected_at: datetime
    withdrawn_at: datetime | None


class AccessLogEntry(SQLModel, table=True):
    """Every read of a porteur's personal data: who, which project, why, when."""

    __tablename__ = "referral_access_log"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(index=True, max_length=64)
    reader: str = Field(max_length=200)
    purpose: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
