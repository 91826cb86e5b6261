"""Evaluation HTTP API: indicators and reports, as JSON or CSV (`format=csv` or Accept)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from services.evaluation import csvout, domain, grid
from services.evaluation.handlers import reports
from services.evaluation.handlers.indicators import IndicatorQuery, indicators
from services.evaluation.settings import EvaluationSettings
from services.kit.auth import CurrentPrincipal
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(tags=["evaluation"])

Format = Annotated[Literal["json", "csv"] | None, Query(description="json (défaut) ou csv")]
Month = Annotated[str | None, Query(description="AAAA-MM (ou AAAA-MM-JJ : son mois)")]
Group = Literal["member", "network", "departement", "epci", "month", "stage"]


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _period(from_: str | None, to: str | None) -> tuple[str | None, str | None]:
    start, end = domain.month_of(from_, "from"), domain.month_of(to, "to")
    if start and end and start > end:
        raise ApiError(422, "validation", summary="from est après to")
    return start, end


def _stuck_days(request: Request) -> int:
    settings: EvaluationSettings = request.app.state.settings
    return settings.stuck_after_days


@router.get("/v1/indicators", response_model=None)
async def get_indicators(
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    member: str | None = None,
    network: str | None = None,
    departement: str | None = None,
    epci: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Month = None,
    stage: str | None = None,
    group_by: Group | None = None,
    format: Format = None,
) -> Any:
    """Indicators over the referrals a token may see (member: its own; operator: its network)."""
    member_filter, scope = domain.narrow(domain.scope_of(who), member=member, network=network)
    start, end = _period(from_, to)
    query = IndicatorQuery(
        member=member_filter,
        network=network,
        departement=departement,
        epci=epci,
        from_month=start,
        to_month=end,
        stage=stage,
        group_by=group_by,
    )
    body = await indicators(
        session, query, scope, now=runtime.clock.now(), stuck_after_days=_stuck_days(request)
    )
    if _wants_csv(request, format):
        return _csv(csvout.indicators_csv(body), "indicateurs.csv")
    return JSONResponse(body)


@router.get("/v1/reports/starter-ess", response_model=None)
async def get_starter_ess(
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    member: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Month = None,
    format: Format = None,
) -> Any:
    """The Starter ESS report of one operator over a period, for the Région."""
    start, end = _period(from_, to)
    body = await reports.starter_ess(
        session,
        domain.scope_of(who),
        member=member,
        from_month=start,
        to_month=end,
        now=runtime.clock.now(),
        stuck_after_days=_stuck_days(request),
        journey_evaluations=grid.journey_evaluations,
        survival=grid.survival,
    )
    if _wants_csv(request, format):
        return _csv(csvout.starter_ess_csv(body), f"starter-ess-{member}.csv")
    return JSONResponse(body)


@router.get("/v1/reports/network", response_model=None)
async def get_network_report(
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    network: str,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Month = None,
    format: Format = None,
) -> Any:
    """A network's figures for its operator (and its funder): totals, per member and territory."""
    start, end = _period(from_, to)
    body = await reports.network_report(
        session,
        domain.scope_of(who),
        network=network,
        from_month=start,
        to_month=end,
        now=runtime.clock.now(),
        stuck_after_days=_stuck_days(request),
        survival=grid.survival,
    )
    if _wants_csv(request, format):
        return _csv(csvout.network_csv(body), f"reseau-{network}.csv")
    return JSONResponse(body)
