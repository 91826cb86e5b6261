"""`/v1/referrals`: send, list, read, act, redirect, assign, messages; `/v1/escalations`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Field, SQLModel, col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import CurrentPrincipal, Principal
from services.kit.http import SessionDep
from services.referral import domain
from services.referral.api import idempotency
from services.referral.api.deps import IfMatch, UseCases
from services.referral.domain import Status
from services.referral.handlers import escalation, referrals
from services.referral.handlers.common import Deps, party_of, referral_for
from services.referral.models import (
    Message,
    MessagePublic,
    Referral,
    ReferralCreate,
    ReferralPublic,
)

router = APIRouter(prefix="/v1", tags=["referrals"])
ACTIONS = (
    "accept",
    "decline",
    "request-info",
    "provide-info",
    "start",
    "hold",
    "resume",
    "complete",
    "fail",
    "cancel",
)


def public(referral: Referral, who: Principal, response: Response | None = None) -> ReferralPublic:
    party = party_of(who, referral)
    allowed = domain.allowed_actions(Status(referral.status), party) if party else []
    if response is not None:
        response.headers["etag"] = f'"{referral.version}"'
    return ReferralPublic.model_validate(referral, update={"allowed_actions": allowed})


@router.post("/referrals", status_code=201, response_model=ReferralPublic)
async def send_referral(
    body: ReferralCreate,
    request: Request,
    response: Response,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
) -> Any:

    async def change() -> Referral:
        return await referrals.send_referral(session, body, who=who, deps=deps, commit=False)

    return await _once(request, response, who, session, deps, 201, change)


async def _once(
    request: Request,
    response: Response,
    who: Principal,
    session: AsyncSession,
    deps: Deps,
    status_code: int,
    change: Callable[[], Awaitable[Referral]],
) -> Any:
    """A POST answering with a referral, at most once per Idempotency-Key."""

    async def answer(referral: Referral) -> ReferralPublic:
        return public(referral, who, response)

    return await idempotency.once(
        request,
        session,
        who,
        deps.clock,
        deps.settings.idempotency_hours,
        status_code=status_code,
        change=change,
        keep=lambda referral: public(referral, who),
        answer=answer,
    )


@router.get("/referrals", response_model=list[ReferralPublic])
async def list_referrals(
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
    status: Annotated[list[str] | None, Query()] = None,
    direction: Annotated[Literal["sent", "received"] | None, Query()] = None,
    member: str | None = None,
    assignee: str | None = None,
    stage: str | None = None,
    commune: str | None = None,
    departement: str | None = None,
    older_than_days: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ReferralPublic]:
    query = select(Referral)
    mine = or_(
        Referral.sender_member_id == who.member_id, Referral.receiver_member_id == who.member_id
    )
    if who.has_role("platform_admin"):
        pass
    elif who.has_role("network_operator"):
        query = query.where(or_(mine, col(Referral.network_id).in_(list(who.network_ids))))
    else:
        query = query.where(mine)
    if direction == "sent":
        query = query.where(Referral.sender_member_id == who.member_id)
    elif direction == "received":
        query = query.where(Referral.receiver_member_id == who.member_id)
    if status:
        query = query.where(col(Referral.status).in_(status))
    if member:
        query = query.where(
            or_(Referral.sender_member_id == member, Referral.receiver_member_id == member)
        )
    if assignee:
        query = query.where(Referral.assignee_user_id == assignee)
    if stage:
        query = query.where(Referral.stage == stage)
    if commune:
        query = query.where(Referral.commune == commune)
    if departement:
        query = query.where(func.substr(Referral.commune, 1, len(departement)) == departement)
    if older_than_days is not None:
        query = query.where(
            col(Referral.sent_at) <= deps.clock.now() - timedelta(days=older_than_days)
        )
    rows = await session.exec(
        query.order_by(col(Referral.sent_at).desc(), col(Referral.id)).offset(offset).limit(limit)
    )
    return [public(r, who) for r in rows.all()]


@router.get("/referrals/{referral_id}", response_model=ReferralPublic)
async def get_referral(
    referral_id: str, response: Response, who: CurrentPrincipal, session: SessionDep
) -> ReferralPublic:
    return public(await referral_for(session, referral_id, who), who, response)


class ActionBody(SQLModel):
    reason: str | None = None
    outcome: str | None = None
    jobs_created: int | None = Field(default=None, ge=0)
    funding_amount_eur: int | None = Field(default=None, ge=0)
    message: str | None = None


def _action_route(action: str) -> None:
    async def run(
        referral_id: str,
        request: Request,
        response: Response,
        who: CurrentPrincipal,
        session: SessionDep,
        deps: UseCases,
        version: IfMatch,
        body: ActionBody | None = None,
    ) -> Any:
        referral = await referral_for(session, referral_id, who)
        payload = body.model_dump(exclude_none=True) if body else {}

        async def change() -> Referral:
            return await referrals.act(
                session,
                referral,
                action,
                payload,
                who=who,
                deps=deps,
                expected_version=version,
                commit=False,
            )

        return await _once(request, response, who, session, deps, 200, change)

    run.__name__ = f"referral_{action.replace('-', '_')}"
    router.post(
        f"/referrals/{{referral_id}}/{action}", response_model=ReferralPublic, name=run.__name__
    )(run)


for _action in ACTIONS:
    _action_route(_action)


class RedirectBody(SQLModel):
    receiver_member_id: str
    offer_id: str | None = None
    message: str | None = None


@router.post("/referrals/{referral_id}/redirect", status_code=201, response_model=ReferralPublic)
async def redirect(
    referral_id: str,
    body: RedirectBody,
    response: Response,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
    version: IfMatch,
    request: Request,
) -> Any:
    referral = await referral_for(session, referral_id, who)

    async def change() -> Referral:
        return await referrals.redirect(
            session,
            referral,
            body.receiver_member_id,
            who=who,
            deps=deps,
            offer_id=body.offer_id,
            message=body.message,
            expected_version=version,
            commit=False,
        )

    return await _once(request, response, who, session, deps, 201, change)


class AssignBody(SQLModel):
    adviser_user_id: str


@router.post("/referrals/{referral_id}/assign", response_model=ReferralPublic)
async def assign(
    referral_id: str,
    body: AssignBody,
    response: Response,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
    request: Request,
) -> Any:
    referral = await referral_for(session, referral_id, who)

    async def change() -> Referral:
        return await referrals.assign(
            session, referral, body.adviser_user_id, who=who, deps=deps, commit=False
        )

    return await _once(request, response, who, session, deps, 200, change)


class MessageBody(SQLModel):
    body: str


@router.post("/referrals/{referral_id}/messages", status_code=201, response_model=MessagePublic)
async def post_message(
    referral_id: str,
    body: MessageBody,
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
) -> Any:
    referral = await referral_for(session, referral_id, who)

    async def change() -> Message:
        return await referrals.post_message(
            session, referral, body.body, who=who, deps=deps, commit=False
        )

    async def answer(message: Message) -> MessagePublic:
        return MessagePublic.model_validate(message, update={"body": body.body})

    async def replay(stored: dict[str, Any]) -> MessagePublic:
        # Only the id was kept (the text is personal data, sealed): read it again.
        thread = await referrals.messages_of(session, referral, deps, reader=who.subject)
        message, text = next((m, t) for m, t in thread if m.id == stored["id"])
        return MessagePublic.model_validate(message, update={"body": text})

    return await idempotency.once(
        request,
        session,
        who,
        deps.clock,
        deps.settings.idempotency_hours,
        status_code=201,
        change=change,
        keep=lambda message: {"id": message.id},
        answer=answer,
        replay=replay,
    )


@router.get("/referrals/{referral_id}/messages", response_model=list[MessagePublic])
async def list_messages(
    referral_id: str, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> list[MessagePublic]:
    referral = await referral_for(session, referral_id, who)
    return [
        MessagePublic.model_validate(m, update={"body": text})
        for m, text in await referrals.messages_of(session, referral, deps, reader=who.subject)
    ]


@router.get("/escalations", tags=["escalations"])
async def escalations(
    who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> list[dict[str, Any]]:
    return await escalation.escalations(session, who=who, deps=deps)
