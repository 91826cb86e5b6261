"""`/v1/projects`: the porteur's journey, consent, erasure, timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import SQLModel, col, select

from services.kit.auth import CurrentPrincipal
from services.kit.errors import ApiError
from services.kit.http import SessionDep
from services.referral.api import idempotency
from services.referral.api.deps import UseCases
from services.referral.handlers import projects
from services.referral.handlers.common import can_see
from services.referral.models import (
    Consent,
    ConsentCreate,
    ConsentPublic,
    KnownMember,
    Project,
    ProjectCreate,
    ProjectPublic,
    Referral,
)
from services.referral.timeline import timeline

router = APIRouter(prefix="/v1", tags=["projects"])


class ProjectRegistration(ProjectCreate):
    consent: ConsentCreate | None = None


class Sharing(SQLModel):
    scopes: list[str]


@router.post("/projects", status_code=201, response_model=ProjectPublic)
async def create_project(
    body: ProjectRegistration,
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
) -> Any:
    data = ProjectCreate.model_validate(body.model_dump(exclude={"consent"}))

    async def change() -> Project:
        return await projects.create_project(
            session, data, who=who, deps=deps, consent=body.consent, commit=False
        )

    async def answer(project: Project) -> ProjectPublic:
        return await projects.read_project(session, project, who=who, deps=deps, purpose="creation")

    async def replay(stored: dict[str, Any]) -> ProjectPublic:
        # Only the id was kept (the answer holds the porteur's data): read it again.
        project = await session.get(Project, stored["id"])
        assert project is not None
        return await answer(project)

    return await idempotency.once(
        request,
        session,
        who,
        deps.clock,
        deps.settings.idempotency_hours,
        status_code=201,
        change=change,
        keep=lambda project: {"id": project.id},
        answer=answer,
        replay=replay,
    )


async def _visible_project(session: SessionDep, project_id: str, who: CurrentPrincipal) -> Project:
    project = await session.get(Project, project_id)
    if project is not None and project.owner_member_id == who.member_id:
        return project
    if project is not None:
        referrals = (
            await session.exec(select(Referral).where(Referral.project_id == project_id))
        ).all()
        if any(can_see(who, r) for r in referrals):
            return project
    raise ApiError(404, "not_found", what="Projet", id=project_id)


async def _operates(session: SessionDep, project: Project, who: CurrentPrincipal) -> bool:
    """A platform admin, or an operator of a network of the project (its owner's or a
    referral's): operators act for their own networks only."""
    if who.has_role("platform_admin"):
        return True
    if not who.has_role("network_operator") or not who.network_ids:
        return False
    owner = await session.get(KnownMember, project.owner_member_id)
    networks = set(owner.network_ids if owner else [])
    referred = await session.exec(
        select(Referral.network_id).where(Referral.project_id == project.id)
    )
    networks.update(n for n in referred.all() if n)
    return bool(networks & set(who.network_ids))


@router.get("/projects/{project_id}", response_model=ProjectPublic)
async def get_project(
    project_id: str, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> ProjectPublic:
    project = await _visible_project(session, project_id, who)
    return await projects.read_project(session, project, who=who, deps=deps, purpose="consultation")


@router.post("/projects/{project_id}/consents", status_code=201, response_model=ConsentPublic)
async def record_consent(
    project_id: str,
    body: ConsentCreate,
    request: Request,
    who: CurrentPrincipal,
    session: SessionDep,
    deps: UseCases,
) -> Any:
    async def change() -> Consent:
        return await projects.record_consent(
            session, project_id, body, who=who, deps=deps, commit=False
        )

    async def answer(consent: Consent) -> ConsentPublic:
        return ConsentPublic.model_validate(consent)

    return await idempotency.once(
        request,
        session,
        who,
        deps.clock,
        deps.settings.idempotency_hours,
        status_code=201,
        change=change,
        keep=lambda consent: ConsentPublic.model_validate(consent),
        answer=answer,
    )


@router.get("/projects/{project_id}/consents", response_model=list[ConsentPublic])
async def list_consents(
    project_id: str, who: CurrentPrincipal, session: SessionDep
) -> list[Consent]:
    """The owner's record of the consents (to show or withdraw them)."""
    await projects.project_for_owner(session, project_id, who)
    rows = await session.exec(
        select(Consent)
        .where(Consent.project_id == project_id)
        .order_by(col(Consent.collected_at), col(Consent.id))
    )
    return list(rows.all())


@router.post("/consents/{consent_id}/withdraw", response_model=ConsentPublic)
async def withdraw_consent(
    consent_id: str, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> Consent:
    consent = await session.get(Consent, consent_id)
    if consent is None:
        raise ApiError(404, "not_found", what="Consentement", id=consent_id)
    await projects.project_for_owner(session, consent.project_id, who)
    return await projects.withdraw_consent(session, consent_id, actor=who.subject, deps=deps)


@router.post("/projects/{project_id}/erase", response_model=ProjectPublic)
async def erase_project(
    project_id: str, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> ProjectPublic:
    """GDPR erasure: the owner member or an operator, on the porteur's request."""
    project = await session.get(Project, project_id)
    if project is None or not (
        project.owner_member_id == who.member_id or await _operates(session, project, who)
    ):
        raise ApiError(404, "not_found", what="Projet", id=project_id)
    erased = await projects.erase_project(session, project_id, actor=who.subject, deps=deps)
    return await projects.read_project(session, erased, who=who, deps=deps, purpose="effacement")


@router.get("/projects/{project_id}/timeline")
async def project_timeline(
    project_id: str, who: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    await _visible_project(session, project_id, who)
    return await timeline(session, project_id)
