"""`/internal/v1/projects/{id}/porteur-contact`: the porteur's address, for notify, at send time.

Answered only while the porteur's consent is active and the project not erased; every answer
that hands out an address is written to the project's access log, like any other read of
personal data. Protected by a service credential (`X-Internal-Key` =
`REFERRAL_INTERNAL_KEY`), with a development default that production refuses at start-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from sqlmodel import col, select

from services.kit.errors import ApiError
from services.kit.http import SessionDep
from services.kit.internal import install_internal_router, require_internal_key
from services.referral.api.deps import UseCases
from services.referral.crypto import ShreddedError
from services.referral.models import AccessLogEntry, Consent, Project, ProjectKey
from services.referral.settings import ReferralSettings

NOTIFY_READER = "service:notify"

router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


def install_internal_api(app: FastAPI, settings: ReferralSettings) -> None:
    """Mount the router behind `REFERRAL_INTERNAL_KEY`; production refuses the development key."""
    install_internal_router(
        app, router, env_name="REFERRAL_INTERNAL_KEY", environment=settings.environment
    )


class PorteurContact(BaseModel):
    name: str
    email: str


@router.get(
    "/projects/{project_id}/porteur-contact",
    response_model=PorteurContact,
    dependencies=[Depends(require_internal_key)],
)
async def porteur_contact(
    project_id: str,
    session: SessionDep,
    deps: UseCases,
    purpose: Annotated[str, Query(max_length=60, pattern=r"^[a-z0-9_.]+$")] = "notification",
) -> PorteurContact:
    """404 when there is nothing to say: no project, erased, no active consent, no email."""
    project = await session.get(Project, project_id)
    gone = ApiError(404, "not_found", what="Contact du porteur", id=project_id)
    if project is None or project.erased_at is not None or project.sealed is None:
        raise gone
    consents = await session.exec(
        select(Consent.id).where(
            Consent.project_id == project_id, col(Consent.withdrawn_at).is_(None)
        )
    )
    if consents.first() is None:
        raise gone
    key_row = await session.get(ProjectKey, project_id)
    try:
        key = deps.vault.project_key(project_id, key_row.sealed_key if key_row else None)
    except ShreddedError as exc:
        raise gone from exc
    porteur = deps.vault.open(key, project_id, project.sealed).get("porteur") or {}
    if not porteur.get("email"):
        raise gone
    session.add(
        AccessLogEntry(
            project_id=project_id,
            reader=NOTIFY_READER,
            purpose=f"notify:{purpose}"[:100],
            at=deps.clock.now(),
        )
    )
    await session.commit()
    return PorteurContact(name=str(porteur.get("name") or ""), email=str(porteur["email"]))
