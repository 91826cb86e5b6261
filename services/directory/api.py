"""Directory HTTP API: parse -> handler -> response."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sqlmodel import select

from services.directory import handlers, keys
from services.directory.models import (
    Member,
    MemberCreate,
    MemberPublic,
    MemberRegistration,
    TokenRequest,
    TokenResponse,
)
from services.directory.settings import DirectorySettings
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(tags=["directory"])


def require_admin(request: Request, x_admin_key: str | None) -> None:
    settings: DirectorySettings = request.app.state.settings
    if not x_admin_key or not hmac.compare_digest(x_admin_key, settings.admin_key):
        raise ApiError(401, "admin.invalid")


@router.post("/v1/members", status_code=201, response_model=MemberRegistration)
async def register_member(
    body: MemberCreate,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    x_admin_key: Annotated[str | None, Header()] = None,
) -> MemberRegistration:
    require_admin(request, x_admin_key)
    member, api_key = await handlers.register_member(
        session, body, emit=runtime.emit, clock=runtime.clock
    )
    return MemberRegistration(member=MemberPublic.model_validate(member), api_key=api_key)


@router.get("/v1/members", response_model=list[MemberPublic])
async def list_members(session: SessionDep) -> list[Member]:
    return list((await session.exec(select(Member).order_by(Member.name))).all())


@router.get("/v1/members/{member_id}", response_model=MemberPublic)
async def get_member(member_id: str, session: SessionDep) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise ApiError(404, "member.unknown", id=member_id)
    return member


@router.post("/v1/token", response_model=TokenResponse)
async def token(
    body: TokenRequest, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenResponse:
    settings: DirectorySettings = request.app.state.settings
    if body.admin_key is not None:
        require_admin(request, body.admin_key)
        return await handlers.issue_platform_admin_token(
            session,
            clock=runtime.clock,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.token_ttl_seconds,
        )
    if body.api_key is None:
        raise ApiError(422, "validation", summary="api_key ou admin_key est requis")
    return await handlers.issue_token_for_api_key(
        session,
        body.api_key,
        clock=runtime.clock,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=settings.token_ttl_seconds,
    )


@router.get("/.well-known/jwks.json")
async def jwks(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    await keys.active_key(session, runtime.clock.now())
    return await keys.jwks(session)
