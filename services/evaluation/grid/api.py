"""HTTP API of the grid slice: grids, evaluations, follow-ups (members' and operators' tokens),
and the public self-diagnosis (no token, body-size capped, rate-limited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from services.evaluation.grid import evaluations, followups, public
from services.evaluation.grid.evaluations import Emit
from services.evaluation.grid.followups import SurvivalFigures
from services.evaluation.grid.grids import GridCatalog
from services.evaluation.grid.models import (
    EvaluationCreate,
    EvaluationPublic,
    FollowUpAnswer,
    FollowUpPublic,
    SelfDiagnosisAnswers,
)
from services.evaluation.grid.participants import require_evaluator, require_reader
from services.evaluation.grid.public import PublicDeps
from services.kit.auth import CurrentPrincipal, Principal
from services.kit.errors import ApiError, request_lang
from services.kit.http import SessionDep
from services.kit.i18n import translate
from services.kit.limits import body_limit_route

PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def build_routers(deps: PublicDeps, emit: Emit) -> list[APIRouter]:
    return [_member_router(deps.catalog, deps, emit), _public_router(deps)]


def _member_router(catalog: GridCatalog, deps: PublicDeps, emit: Emit) -> APIRouter:
    router = APIRouter(tags=["evaluation grid"])

    @router.get("/v1/grids", summary="Versions publiées de la grille commune")
    async def grids(request: Request) -> dict[str, Any]:
        lang = request_lang(request)
        return {
            "current": catalog.current,
            "grids": [
                {"version": v, "title": catalog.grids[v].title.label(lang)}
                for v in catalog.versions()
            ],
        }

    @router.get("/v1/grids/{version}", summary="Une version de la grille, avec ses libellés")
    async def grid(version: str, request: Request) -> dict[str, Any]:
        found = catalog.get(version)
        if found is None:
            raise ApiError(404, "not_found", what="Grille", id=version)
        return found.view(request_lang(request))

    @router.post(
        "/v1/projects/{project_id}/evaluations",
        status_code=201,
        response_model=EvaluationPublic,
        summary="Remplir la grille pour un parcours, à l'entrée ou à la sortie",
    )
    async def record(
        project_id: str,
        body: EvaluationCreate,
        request: Request,
        principal: CurrentPrincipal,
        session: SessionDep,
    ) -> EvaluationPublic:
        member_id = await require_evaluator(session, project_id, principal)
        evaluation = await evaluations.record_evaluation(
            session,
            project_id,
            body,
            member_id=member_id,
            user_id=principal.subject,
            catalog=catalog,
            clock=deps.clock,
            emit=emit,
            lang=request_lang(request),
        )
        return evaluations.public(evaluation)

    @router.get(
        "/v1/projects/{project_id}/evaluations",
        summary="Les évaluations d'un parcours : toutes, celles qui comptent, l'évolution",
    )
    async def list_(
        project_id: str, principal: CurrentPrincipal, session: SessionDep
    ) -> dict[str, Any]:
        await require_reader(session, project_id, principal)
        return await evaluations.list_evaluations(session, project_id)

    @router.get("/v1/follow-ups", response_model=list[FollowUpPublic])
    async def list_follow_ups(
        principal: CurrentPrincipal,
        session: SessionDep,
        status: Annotated[Literal["scheduled", "due", "answered"] | None, Query()] = None,
        member: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[FollowUpPublic]:
        return await followups.list_follow_ups(session, principal, status=status, member_id=member)

    @router.get("/v1/follow-ups/survival", response_model=SurvivalFigures)
    async def survival(
        principal: CurrentPrincipal,
        session: SessionDep,
        member: Annotated[str | None, Query(max_length=64)] = None,
        network: Annotated[str | None, Query(max_length=64)] = None,
    ) -> SurvivalFigures:
        members, network_id = _survival_scope(principal, member, network)
        return await followups.survival(session, member_ids=members, network_id=network_id)

    @router.post("/v1/follow-ups/{follow_up_id}/answer", response_model=FollowUpPublic)
    async def answer(
        follow_up_id: str, body: FollowUpAnswer, principal: CurrentPrincipal, session: SessionDep
    ) -> FollowUpPublic:
        row = await followups.answer_follow_up(
            session, follow_up_id, body, principal=principal, clock=deps.clock, emit=emit
        )
        return followups.public(row)

    return router


def _survival_scope(
    principal: Principal, member: str | None, network: str | None
) -> tuple[list[str] | None, str | None]:
    """A member reads its own figures; an operator or funder its networks'; an admin all."""
    if principal.has_role("platform_admin"):
        return ([member] if member else None), network
    if principal.has_role("network_operator", "funder") and principal.network_ids:
        chosen = network or principal.network_ids[0]
        if chosen not in principal.network_ids:
            raise ApiError(403, "auth.forbidden", reason="réseau d'un autre opérateur")
        return ([member] if member else None), chosen
    if principal.member_id and member in (None, principal.member_id) and network is None:
        return [principal.member_id], None
    raise ApiError(403, "auth.forbidden", reason="une structure ne lit que ses propres suivis")


# --- public ---------------------------------------------------------------------------------


def _public_router(deps: PublicDeps) -> APIRouter:
    router = APIRouter(
        prefix="/v1/public",
        tags=["public"],
        route_class=body_limit_route(deps.settings.public_max_body_bytes),
    )

    @router.get("/self-diagnosis", summary="Le questionnaire d'autodiagnostic (public)")
    async def questionnaire(request: Request) -> dict[str, Any]:
        return public.questionnaire_view(request_lang(request))

    @router.post(
        "/self-diagnosis",
        status_code=201,
        summary="Réponses -> profil, scores, prochaines étapes et offres ; mise en relation",
    )
    async def take(
        body: SelfDiagnosisAnswers, request: Request, response: Response, session: SessionDep
    ) -> Any:
        lang = request_lang(request)
        try:
            result = await public.take_self_diagnosis(
                session,
                body,
                client_address=request.client.host if request.client else None,
                deps=deps,
                lang=lang,
            )
        except public.RateLimited as exc:
            message = translate(exc.code, lang, **exc.params)  # type: ignore[arg-type]
            return JSONResponse(
                {"error": {"code": exc.code, "message": message}},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after_seconds), **PRIVATE_HEADERS},
            )
        except public.Refused as exc:
            headers = dict(PRIVATE_HEADERS)
            if exc.retry_after:
                headers["Retry-After"] = exc.retry_after
            return JSONResponse(exc.body, status_code=exc.status, headers=headers)
        response.headers.update(PRIVATE_HEADERS)
        return result

    return router
