"""`/v1/subscriptions` and `/v1/deliveries`: parse, call the use case, shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import col, select

from services.kit.auth import CurrentPrincipal
from services.kit.errors import ApiError
from services.kit.http import SessionDep
from services.notify.webhooks import delivery as deliveries
from services.notify.webhooks import domain, subscriptions
from services.notify.webhooks.delivery import Webhooks
from services.notify.webhooks.models import (
    Attempt,
    AttemptPublic,
    Delivery,
    DeliveryDetail,
    DeliveryPublic,
    SecretRotate,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPublic,
    SubscriptionUpdate,
)

router = APIRouter(tags=["webhooks"])


async def webhooks_of(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.webhooks
    return hooks


HooksDep = Annotated[Webhooks, Depends(webhooks_of)]


# --- subscriptions -------------------------------------------------------------------------------
@router.get("/v1/subscriptions/event-types")
async def event_types() -> list[dict[str, Any]]:
    """The event types a subscription may receive (all of them when it names none)."""
    return [{"type": name} for name in sorted(domain.SUBSCRIBABLE)]


@router.post("/v1/subscriptions", status_code=201, response_model=SubscriptionCreated)
async def create_subscription(
    body: SubscriptionCreate, who: CurrentPrincipal, session: SessionDep, hooks: HooksDep
) -> SubscriptionCreated:
    return await subscriptions.create(hooks, session, body, who)


@router.get("/v1/subscriptions", response_model=list[SubscriptionPublic])
async def list_subscriptions(
    who: CurrentPrincipal, session: SessionDep
) -> list[SubscriptionPublic]:
    return [SubscriptionPublic.of(sub) for sub in await subscriptions.visible(session, who)]


@router.get("/v1/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
async def get_subscription(
    subscription_id: str, who: CurrentPrincipal, session: SessionDep
) -> SubscriptionPublic:
    return SubscriptionPublic.of(await subscriptions.get(session, subscription_id, who))


@router.patch("/v1/subscriptions/{subscription_id}", response_model=SubscriptionPublic)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    who: CurrentPrincipal,
    session: SessionDep,
    hooks: HooksDep,
) -> SubscriptionPublic:
    sub = await subscriptions.update(hooks, session, subscription_id, body, who)
    return SubscriptionPublic.of(sub)


@router.delete("/v1/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    subscription_id: str, who: CurrentPrincipal, session: SessionDep, hooks: HooksDep
) -> Response:
    await subscriptions.delete(hooks, session, subscription_id, who)
    return Response(status_code=204)


@router.post("/v1/subscriptions/{subscription_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(
    subscription_id: str,
    who: CurrentPrincipal,
    session: SessionDep,
    hooks: HooksDep,
    body: SecretRotate | None = None,
) -> SecretRotated:
    return await subscriptions.rotate(hooks, session, subscription_id, body or SecretRotate(), who)


# --- deliveries ----------------------------------------------------------------------------------
@router.get("/v1/deliveries", response_model=list[DeliveryPublic])
async def list_deliveries(
    who: CurrentPrincipal,
    session: SessionDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    subscription_id: Annotated[str | None, Query(alias="subscription")] = None,
    event_type: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Delivery]:
    """Newest first, only for the subscriptions you manage."""
    mine = await subscriptions.visible(session, who) if not who.has_role("platform_admin") else None
    query = select(Delivery)
    if mine is not None:
        allowed = [sub.id for sub in mine]
        if subscription_id is not None:
            allowed = [s for s in allowed if s == subscription_id]
        query = query.where(col(Delivery.subscription_id).in_(allowed))
    elif subscription_id is not None:
        query = query.where(Delivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if event_type is not None:
        query = query.where(Delivery.event_type == event_type)
    if since is not None:
        if since.tzinfo is None:
            raise ApiError(422, "validation", summary="since : indiquez le fuseau (Z ou +01:00)")
        query = query.where(col(Delivery.created_at) >= since)
    rows = await session.exec(query.order_by(col(Delivery.created_at).desc()).limit(limit))
    return list(rows.all())


async def _delivery(session: SessionDep, delivery_id: str, who: CurrentPrincipal) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is not None:
        try:
            await subscriptions.get(session, delivery.subscription_id, who, deleted=True)
            return delivery
        except ApiError:
            pass
    raise ApiError(404, "not_found", what="Livraison", id=delivery_id)


@router.get("/v1/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(
    delivery_id: str, who: CurrentPrincipal, session: SessionDep
) -> DeliveryDetail:
    """The delivery, its payload and its log (one line per attempt)."""
    delivery = await _delivery(session, delivery_id, who)
    attempts = (
        await session.exec(
            select(Attempt).where(Attempt.delivery_id == delivery.id).order_by(col(Attempt.number))
        )
    ).all()
    return DeliveryDetail(
        **DeliveryPublic.model_validate(delivery, from_attributes=True).model_dump(),
        payload=delivery.payload,
        log=[AttemptPublic.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.post("/v1/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryPublic)
async def replay_delivery(
    delivery_id: str, who: CurrentPrincipal, session: SessionDep, hooks: HooksDep
) -> Delivery:
    """Send again (same `webhook-id`), with a new round of attempts."""
    delivery = await _delivery(session, delivery_id, who)
    return await deliveries.replay(hooks, session, delivery)
