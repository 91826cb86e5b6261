"""`/v1/projects/{id}/access-log`: who read a porteur's personal data, when and why."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from sqlmodel import SQLModel

from services.kit.auth import CurrentPrincipal
from services.kit.http import SessionDep
from services.referral.handlers import retention

router = APIRouter(prefix="/v1", tags=["projects"])


class AccessLogRead(SQLModel):
    reader: str
    purpose: str
    at: datetime


@router.get("/projects/{project_id}/access-log", response_model=list[AccessLogRead])
async def access_log(
    project_id: str, who: CurrentPrincipal, session: SessionDep
) -> list[AccessLogRead]:
    """For the project's owner member and the operators of its networks."""
    entries = await retention.access_log(session, project_id, who=who)
    return [AccessLogRead.model_validate(e, from_attributes=True) for e in entries]
