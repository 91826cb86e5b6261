"""Networks, members and their memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.directory.models.codes import CircleCode, Email, SchemeCode, new_id
from services.kit.db import UtcDateTime

SIRET = r"^[0-9]{14}$"
COMMUNE = r"^[0-9][0-9AB][0-9]{3}$"


# --- networks ------------------------------------------------------------------------
class NetworkBase(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    region: str = Field(regex=r"^[0-9]{2,3}$", description="INSEE région code")
    operator_emails: list[Email] = Field(default_factory=list, sa_column=Column(JSON))


class NetworkCreate(NetworkBase):
    id: str | None = Field(default=None, regex=r"^[a-z0-9][a-z0-9-]{1,62}$")


class Network(NetworkBase, table=True):
    __tablename__ = "directory_network"

    id: str = Field(primary_key=True, max_length=64)
    operator_emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class NetworkPublic(NetworkBase):
    id: str


# --- members ---------------------------------------------------------------------------
class MemberBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    siret: str | None = Field(default=None, regex=SIRET)
    address: str | None = Field(default=None, max_length=300)
    commune: str | None = Field(default=None, regex=COMMUNE, description="INSEE commune code")
    contact_email: Email | None = None
    contact_phone: str | None = Field(default=None, max_length=30)
    website: str | None = Field(default=None, max_length=300)


class MemberCreate(MemberBase):
    network_ids: list[str] = Field(default_factory=list)
    circle: CircleCode = "premier_cercle"
    schemes: list[SchemeCode] = Field(default_factory=list)
    national_networks: list[str] = Field(default_factory=list)


class MemberUpdate(SQLModel):
    """Every field optional: only what is sent changes."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    siret: str | None = Field(default=None, regex=SIRET)
    address: str | None = Field(default=None, max_length=300)
    commune: str | None = Field(default=None, regex=COMMUNE)
    contact_email: Email | None = None
    contact_phone: str | None = Field(default=None, max_length=30)
    website: str | None = Field(default=None, max_length=300)
    circle: CircleCode | None = None
    schemes: list[SchemeCode] | None = None
    national_networks: list[str] | None = None


class Member(MemberBase, table=True):
    __tablename__ = "directory_member"

    id: str = Field(default_factory=lambda: new_id("mbr"), primary_key=True, max_length=64)
    contact_email: str | None = Field(default=None, max_length=200)
    circle: str = Field(default="premier_cercle", max_length=20)
    schemes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    national_networks: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class Membership(SQLModel, table=True):
    """A member belongs to one or several networks."""

    __tablename__ = "directory_membership"

    member_id: str = Field(foreign_key="directory_member.id", primary_key=True, max_length=64)
    network_id: str = Field(foreign_key="directory_network.id", primary_key=True, max_length=64)


class MemberPublic(MemberBase):
    id: str
    network_ids: list[str]
    circle: str
    schemes: list[str]
    national_networks: list[str]
    status: str
    updated_at: datetime


class MemberRegistration(SQLModel):
    member: MemberPublic
    api_key: str = Field(description="Shown once; stored hashed")
