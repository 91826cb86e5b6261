"""Users, one-time user tokens (invitation, password reset), member API keys, the public keys
members register to sign Kafka commands, and the directory's own token signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.directory.models.codes import Email, RoleCode, new_id
from services.kit.db import UtcDateTime


# --- users -----------------------------------------------------------------------------
class UserBase(SQLModel):
    email: Email
    name: str = Field(min_length=1, max_length=200)
    member_id: str | None = Field(default=None, max_length=64)
    network_id: str | None = Field(default=None, max_length=64)


class UserCreate(UserBase):
    roles: list[RoleCode] = Field(min_length=1)


class User(UserBase, table=True):
    __tablename__ = "directory_user"

    id: str = Field(default_factory=lambda: new_id("usr"), primary_key=True, max_length=64)
    email: str = Field(index=True, unique=True, max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str | None = None
    status: str = Field(default="invited", max_length=20)  # invited | active | deactivated
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class UserPublic(UserBase):
    id: str
    roles: list[str]
    status: str
    last_login_at: datetime | None


class UserInvitation(SQLModel):
    user: UserPublic
    invitation_url: str = Field(description="One-time link to choose a password; shown once")


class UserToken(SQLModel, table=True):
    """One-time secrets (invitation, password reset): only their hash is stored."""

    __tablename__ = "directory_user_token"

    secret_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="directory_user.id", index=True, max_length=64)
    purpose: str = Field(max_length=20)  # invitation | reset
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


# --- member API keys -------------------------------------------------------------------
class ApiKeyCreate(SQLModel):
    label: str = Field(default="default", min_length=1, max_length=100)


class ApiKey(SQLModel, table=True):
    __tablename__ = "directory_api_key"

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="directory_member.id", index=True, max_length=64)
    label: str = Field(default="default", max_length=100)
    secret_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ApiKeyPublic(SQLModel):
    id: str
    member_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    api_key: str = Field(description="Shown once; stored hashed")


# --- keys members register to sign their Kafka commands ----------------------------------
class CommandKeyCreate(SQLModel):
    label: str = Field(default="default", min_length=1, max_length=100)
    public_key: str = Field(description="Ed25519 public key, base64url (32 bytes) or PEM")


class CommandKey(SQLModel, table=True):
    __tablename__ = "directory_command_key"

    id: str = Field(default_factory=lambda: new_id("ck"), primary_key=True, max_length=64)
    member_id: str = Field(foreign_key="directory_member.id", index=True, max_length=64)
    label: str = Field(max_length=100)
    public_key: str = Field(description="Ed25519 raw public key, base64url")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class CommandKeyPublic(SQLModel):
    id: str
    member_id: str
    label: str
    public_key: str
    created_at: datetime
    revoked_at: datetime | None


# --- the directory's own token signing keys ---------------------------------------------
class SigningKey(SQLModel, table=True):
    """ES256 keys. The newest active one signs; every active one is in the JWKS, so a
    rotation publishes the new key before it signs and retires the old one after its tokens
    expired."""

    __tablename__ = "directory_signing_key"

    kid: str = Field(primary_key=True, max_length=64)
    generation: int = Field(default=1, index=True, description="Higher signs first")
    private_pem: str
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    signs_from: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class TokenRequest(SQLModel):
    """One of: a member tool's API key; a user's email and password; the platform admin key."""

    api_key: str | None = Field(default=None, min_length=8, max_length=200)
    email: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    admin_key: str | None = Field(default=None, min_length=8, max_length=200)


class TokenResponse(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
