"""Tokens, JWKS, key rotation, users, invitations and password resets."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Request, Response

from services.directory import access, keys
from services.directory.api.deps import Actor, Policy, Settings, admin_key_is_valid
from services.directory.handlers import identity
from services.directory.models import (
    TokenRequest,
    TokenResponse,
    UserCreate,
    UserInvitation,
    UserPublic,
)
from services.directory.models.codes import Email
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(tags=["identity"])


@router.post("/v1/token", response_model=TokenResponse)
async def token(
    body: TokenRequest, request: Request, policy: Policy, session: SessionDep, runtime: RuntimeDep
) -> TokenResponse:
    """Exchange a member API key, a user's email and password, or the admin key for a JWT."""
    if body.admin_key is not None:
        if not admin_key_is_valid(request, body.admin_key):
            raise ApiError(401, "admin.invalid")
        return await identity.token_for_platform_admin(session, clock=runtime.clock, policy=policy)
    if body.api_key is not None:
        return await identity.token_for_api_key(
            session, body.api_key, clock=runtime.clock, policy=policy
        )
    if body.email and body.password:
        return await identity.token_for_password(
            session, body.email, body.password, clock=runtime.clock, policy=policy
        )
    raise ApiError(422, "validation", summary="envoyez api_key, ou email et password, ou admin_key")


@router.get("/.well-known/jwks.json")
async def jwks(session: SessionDep, runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    await keys.active_key(session, runtime.clock.now())
    response.headers["cache-control"] = "public, max-age=60"
    return await keys.jwks(session)


@router.post("/v1/signing-keys/rotate")
async def rotate_signing_key(
    who: Actor, settings: Settings, session: SessionDep, runtime: RuntimeDep
) -> dict[str, str]:
    if not access.is_platform_admin(who):
        raise access.deny("réservé à l'administration de la plateforme")
    key = await keys.rotate(
        session, runtime.clock.now(), timedelta(seconds=settings.token_ttl_seconds)
    )
    return {"kid": key.kid}


def _link(settings: Any, secret: str) -> str:
    return f"{settings.password_page_url}?{urlencode({'jeton': secret})}"


@router.post("/v1/users", status_code=201, response_model=UserInvitation, tags=["users"])
async def invite_user(
    body: UserCreate, who: Actor, settings: Settings, session: SessionDep, runtime: RuntimeDep
) -> UserInvitation:
    user, secret = await identity.invite_user(
        session,
        body,
        who=who,
        emit=runtime.emit,
        clock=runtime.clock,
        link_ttl=timedelta(hours=settings.invitation_ttl_hours),
    )
    return UserInvitation(
        user=UserPublic.model_validate(user), invitation_url=_link(settings, secret)
    )


@router.get("/v1/users", response_model=list[UserPublic], tags=["users"])
async def list_users(who: Actor, session: SessionDep) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in await identity.list_users(session, who=who)]


@router.post("/v1/users/{user_id}/deactivate", response_model=UserPublic, tags=["users"])
async def deactivate_user(
    user_id: str, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> UserPublic:
    user = await identity.deactivate_user(
        session, user_id, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return UserPublic.model_validate(user)


@router.post("/v1/password-resets", status_code=202, tags=["users"])
async def request_password_reset(
    email: Annotated[Email, Body(embed=True)],
    settings: Settings,
    session: SessionDep,
    runtime: RuntimeDep,
) -> dict[str, str]:
    """Always 202, known address or not: nobody learns who has an account."""
    found = await identity.request_password_reset(
        session, str(email), clock=runtime.clock, link_ttl=timedelta(hours=settings.reset_ttl_hours)
    )
    answer = {"status": "si ce compte existe, un lien de réinitialisation lui a été envoyé"}
    if found is not None and settings.environment == "development":
        answer["development_link"] = _link(settings, found[1])  # no mailer for this yet (notify)
    return answer


@router.post("/v1/password", response_model=UserPublic, tags=["users"])
async def set_password(
    token: Annotated[str, Body(min_length=10, max_length=200)],
    password: Annotated[str, Body(max_length=200)],
    session: SessionDep,
    runtime: RuntimeDep,
) -> UserPublic:
    """Choose a password with the one-time link of an invitation or a reset."""
    user = await identity.set_password(
        session, token, password, emit=runtime.emit, clock=runtime.clock
    )
    return UserPublic.model_validate(user)
