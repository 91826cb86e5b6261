"""`/internal/v1/addresses`: read-only contact addresses for notify, at send time.

Events carry no personal data, so notify asks here, just before it sends, where to write:
a user's email, a member's contact email, a network's operators. Protected by a service
credential (`X-Internal-Key` = `DIRECTORY_INTERNAL_KEY`), not by user tokens: no person
calls it. The key has a development default that production refuses at start-up.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlmodel import col, select

from services.directory.models import Member, Network, User
from services.directory.settings import DirectorySettings
from services.kit.errors import ApiError
from services.kit.http import SessionDep

DEV_INTERNAL_KEY = "dev-internal-key-change-me"

router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


class InternalApiSettings(BaseSettings):
    """`DIRECTORY_INTERNAL_KEY`: the credential notify presents (same value as its
    `NOTIFY_DIRECTORY_INTERNAL_KEY`)."""

    model_config = SettingsConfigDict(env_prefix="DIRECTORY_", extra="ignore")

    internal_key: str | None = Field(
        default=None, validation_alias=AliasChoices("DIRECTORY_INTERNAL_KEY")
    )


def install_internal_api(app: FastAPI, settings: DirectorySettings) -> None:
    """Mount the router; refuse to start in production without a real key."""
    key = InternalApiSettings().internal_key
    if key is None or key == DEV_INTERNAL_KEY:
        if settings.environment == "production":
            raise ValueError("DIRECTORY_INTERNAL_KEY must be set outside development")
        key = DEV_INTERNAL_KEY
    if len(key) < 16:
        raise ValueError("DIRECTORY_INTERNAL_KEY must be at least 16 characters")
    app.state.internal_key = key
    app.include_router(router)


def require_internal_key(
    request: Request, x_internal_key: Annotated[str | None, Header()] = None
) -> None:
    expected: str = request.app.state.internal_key
    if not x_internal_key or not hmac.compare_digest(x_internal_key, expected):
        raise ApiError(401, "auth.invalid", reason="clé de service interne")


class Address(BaseModel):
    name: str | None = None
    emails: list[str] = Field(default_factory=list)


class Addresses(BaseModel):
    addresses: dict[str, Address]


@router.get("/addresses", response_model=Addresses, dependencies=[Depends(require_internal_key)])
async def addresses(
    session: SessionDep,
    subject: Annotated[list[str], Query(max_length=200)],
) -> Addresses:
    """`subject` (repeatable): `user:<id>`, `member:<id>` or `network:<id>`. Unknown or
    inactive subjects answer with no email."""
    found: dict[str, Address] = {}
    for item in dict.fromkeys(subject):
        kind, _, ident = item.partition(":")
        found[item] = await _address(session, kind, ident)
    return Addresses(addresses=found)


async def _address(session: SessionDep, kind: str, ident: str) -> Address:
    if kind == "user":
        user = await session.get(User, ident)
        if user is None or user.status != "active":
            return Address()
        return Address(name=user.name, emails=[user.email])
    if kind == "member":
        member = await session.get(Member, ident)
        if member is None:
            return Address()
        return Address(
            name=member.name, emails=[member.contact_email] if member.contact_email else []
        )
    if kind == "network":
        network = await session.get(Network, ident)
        if network is None:
            return Address()
        operators = await session.exec(
            select(User).where(User.network_id == ident, col(User.status) == "active")
        )
        emails = list(network.operator_emails) + [
            u.email for u in operators.all() if "network_operator" in u.roles
        ]
        return Address(name=network.name, emails=list(dict.fromkeys(emails)))
    return Address()
