"""Directory tables and their API shapes (XBase / XCreate / X(table) / XPublic)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class MemberBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    commune: str | None = Field(default=None, max_length=5, description="INSEE commune code")


class MemberCreate(MemberBase):
    network_ids: list[str] = Field(default_factory=list)
    schemes: list[str] = Field(default_factory=list)


class Member(MemberBase, table=True):
    __tablename__ = "directory_member"

    id: str = Field(default_factory=lambda: new_id("mbr"), primary_key=True, max_length=64)
    network_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    schemes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MemberPublic(MemberBase):
    id: str
    network_ids: list[str]
    schemes: list[str]
    status: str


class MemberRegistration(SQLModel):
    member: MemberPublic
    api_key: str = Field(description="Shown once; stored hashed")


class ApiKey(SQLModel, table=True):
    __tablename__ = "directory_api_key"

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="directory_member.id", index=True, max_length=64)
    label: str = Field(default="default", max_length=100)
    secret_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class SigningKey(SQLModel, table=True):
    """Token signing keys. Several may be published in the JWKS during a rotation."""

    __tablename__ = "directory_signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    private_pem: str
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    active: bool = True


class TokenRequest(SQLModel):
    """A member tool sends its API key; the platform's operators send the admin key."""

    api_key: str | None = Field(default=None, min_length=8, max_length=200)
    admin_key: str | None = Field(default=None, min_length=8, max_length=200)


class TokenResponse(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
