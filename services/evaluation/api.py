"""Evaluation HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from services.evaluation import handlers
from services.evaluation.models import IndicatorSummary
from services.kit.auth import CurrentPrincipal
from services.kit.http import SessionDep

router = APIRouter(tags=["evaluation"])


@router.get("/v1/indicators", response_model=IndicatorSummary)
async def indicators(_principal: CurrentPrincipal, session: SessionDep) -> IndicatorSummary:
    return await handlers.indicator_summary(session)
