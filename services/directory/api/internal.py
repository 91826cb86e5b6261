"""`/internal/v1/addresses`: read-only contact addresses for notify, at send time.

Events carry no personal data, so notify asks here, just before it sends, where to write:
a user's email, a member's contact email, a network's operators. Protected by a service
credential (`X-Internal-Key` = `DIRECTORY_INTERNAL_KEY`), not by user tokens: no person
calls it. The key has a development default that production refuses at start-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from services.directory.models import Member, Network, User
from services.directory.settings import DirectorySettings
from services.kit.http import SessionDep
from services.kit.internal import install_internal_router, require_internal_key

router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


def install_internal_api(app: FastAPI, settings: DirectorySettings) -> None:
    """Mount the router behind `DIRECTORY_INTERNAL_KEY`; production refuses the development key."""
    install_internal_router(
        app, router, env_name="DIRECTORY_INTERNAL_KEY", environment=settings.environment
    )


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
