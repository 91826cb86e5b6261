"""`/v1/offers`: public reads; members' admins and tools (and operators) write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.directory.api.deps import Actor
from services.directory.handlers import offers
from services.directory.models import OfferCreate, OfferPublic, OfferUpdate
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/offers", tags=["offers"])


@router.post("", status_code=201, response_model=OfferPublic)
async def publish_offer(
    body: OfferCreate, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> OfferPublic:
    offer = await offers.publish_offer(
        session, body, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return await offers.offer_public(session, offer, runtime.clock.now())


@router.get("", response_model=list[OfferPublic])
async def list_offers(
    session: SessionDep,
    runtime: RuntimeDep,
    member: Annotated[str | None, Query(description="member id")] = None,
    status: Annotated[str | None, Query(pattern="^(published|withdrawn)$")] = "published",
    stale: Annotated[bool, Query(description="only offers not updated for 6 months")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[OfferPublic]:
    return await offers.list_offers(
        session,
        member_id=member,
        status=status,
        stale_only=stale,
        now=runtime.clock.now(),
        limit=limit,
        offset=offset,
    )


@router.get("/{offer_id}", response_model=OfferPublic)
async def get_offer(offer_id: str, session: SessionDep, runtime: RuntimeDep) -> OfferPublic:
    return await offers.offer_public(
        session, await offers.get_offer(session, offer_id), runtime.clock.now()
    )


@router.patch("/{offer_id}", response_model=OfferPublic)
async def update_offer(
    offer_id: str, body: OfferUpdate, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> OfferPublic:
    offer = await offers.update_offer(
        session, offer_id, body, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return await offers.offer_public(session, offer, runtime.clock.now())


@router.delete("/{offer_id}", response_model=OfferPublic)
async def withdraw_offer(
    offer_id: str, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> OfferPublic:
    offer = await offers.withdraw_offer(
        session, offer_id, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return await offers.offer_public(session, offer, runtime.clock.now())
