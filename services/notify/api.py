"""Notify HTTP API (the walking skeleton's delivery log)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from services.kit.auth import CurrentPrincipal
from services.kit.http import SessionDep
from services.notify.models import Delivery, DeliveryPublic

router = APIRouter(tags=["notify"])


@router.get("/v1/deliveries", response_model=list[DeliveryPublic])
async def list_deliveries(_principal: CurrentPrincipal, session: SessionDep) -> list[Delivery]:
    rows = await session.exec(select(Delivery).order_by(col(Delivery.created_at).desc()).limit(200))
    return list(rows.all())
