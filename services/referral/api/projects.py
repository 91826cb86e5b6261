"""`/v1/projects`: the porteur's journey, consent, erasure, timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import SQLModel, select

from services.kit.auth import CurrentPrincipal
from services.kit.errors import ApiError
from services.kit.http import SessionDep
from services.referral.api.deps import UseCases
from services.referral.handlers import projects
from services.referral.handlers.common import can_see
from services.referral.models import (
    Consent,
    ConsentCreate,
    ConsentPublic,
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
    body: ProjectRegistration, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> ProjectPublic:
    data = ProjectCreate.model_validate(body.model_dump(exclude={"consent"}))
    project = await projects.create_project(session, data, who=who, deps=deps, consent=body.consent)
    return await projects.read_project(session, project, who=who, deps=deps, purpose="creation")


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


@router.get("/projects/{project_id}", response_model=ProjectPublic)
async def get_project(
    project_id: str, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> ProjectPublic:
    project = await _visible_project(session, project_id, who)
    return await projects.read_project(session, project, who=who, deps=deps, purpose="consultation")


@router.post("/projects/{project_id}/consents", status_code=201, response_model=ConsentPublic)
async def record_consent(
    project_id: str, body: ConsentCreate, who: CurrentPrincipal, session: SessionDep, deps: UseCases
) -> Consent:
    return await projects.record_consent(session, project_id, body, who=who, deps=deps)


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
    operator = who.has_role("network_operator", "platform_admin")
    if project is None or not (operator or project.owner_member_id == who.member_id):
        raise ApiError(404, "not_found", what="Projet", id=project_id)
    erased = await projects.erase_project(session, project_id, actor=who.subject, deps=deps)
    return await projects.read_project(session, erased, who=who, deps=deps, purpose="effacement")


@router.get("/projects/{project_id}/timeline")
async def project_timeline(
    project_id: str, who: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    await _visible_project(session, project_id, who)
    return await timeline(session, project_id)
