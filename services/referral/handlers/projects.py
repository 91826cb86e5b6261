"""Projects: the porteur's journey, its sealed personal data, consent and erasure."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.referral import (
    ConsentRecorded,
    ConsentWithdrawn,
    ProjectCreated,
    ProjectErased,
)
from services.kit.auth import Principal
from services.kit.errors import ApiError
from services.referral.crypto import ShreddedError
from services.referral.domain import CONSENT_SCOPES, OPEN, check_code
from services.referral.handlers.common import Deps, member_of
from services.referral.models import (
    AccessLogEntry,
    Consent,
    ConsentCreate,
    Porteur,
    Project,
    ProjectCreate,
    ProjectFacts,
    ProjectKey,
    ProjectPublic,
    Referral,
)

log = logging.getLogger("relais.referral")
SHARING_SCOPE = "partage_structure_destinataire"
CONTACT_VISIBLE = frozenset({"accepted", "in_progress", "on_hold", "completed", "failed"})


def present_information(data: ProjectCreate) -> list[str]:
    """Which of the directory's `required_information` codes this file can satisfy."""
    present = ["stade", "commune"]
    checks = {
        "description_projet": data.description,
        "forme_juridique": data.legal_form,
        "date_creation": data.structure_created_on,
        "besoins": data.needs,
        "budget_previsionnel": data.budget_eur,
        "nombre_salaries": data.employees,
        "contact_porteur": data.porteur.email or data.porteur.phone,
    }
    return present + [code for code, value in checks.items() if value not in (None, "")]


async def create_project(
    session: AsyncSession,
    data: ProjectCreate,
    *,
    who: Principal,
    deps: Deps,
    consent: ConsentCreate | None = None,
    commit: bool = True,
) -> Project:
    owner = member_of(who)
    now = deps.clock.now()
    project = Project(
        owner_member_id=owner,
        **data.model_dump(include=set(ProjectFacts.model_fields)),
        present_information=present_information(data),
        created_at=now,
        updated_at=now,
    )
    sealed_key, key = deps.vault.new_project_key(project.id)
    project.sealed = deps.vault.seal(
        key,
        project.id,
        {
            "title": data.title,
            "description": data.description,
            "needs": data.needs,
            "porteur": data.porteur.model_dump(mode="json"),
        },
    )
    session.add_all([project, ProjectKey(project_id=project.id, sealed_key=sealed_key)])
    deps.emit(
        session,
        ProjectCreated(
            project_id=project.id,
            owner_member_id=owner,
            stage=project.stage,
            commune=project.commune,
            themes=project.themes,
            collective=project.collective,
            actor=who.subject,
        ),
    )
    if consent is not None:
        _record_consent(session, project.id, consent, who=who, deps=deps)
    if commit:
        await session.commit()
    log.info("project %s registered by %s", project.id, owner)
    return project


def _record_consent(
    session: AsyncSession, project_id: str, data: ConsentCreate, *, who: Principal, deps: Deps
) -> Consent:
    for scope in data.scopes:  # what the consent covers is coded: a typo would share nothing
        check_code(CONSENT_SCOPES, scope, "Code de portée")
    consent = Consent(
        project_id=project_id,
        text_version=data.text_version,
        scopes=list(dict.fromkeys(data.scopes)),
        collected_by=data.collected_by or who.subject,
        collected_at=data.collected_at or deps.clock.now(),
    )
    session.add(consent)
    deps.emit(
        session,
        ConsentRecorded(
            project_id=project_id,
            consent_id=consent.id,
            text_version=consent.text_version,
            scopes=consent.scopes,
            actor=who.subject,
        ),
    )
    return consent


async def project_for_owner(session: AsyncSession, project_id: str, who: Principal) -> Project:
    project = await session.get(Project, project_id)
    if project is None or project.owner_member_id != who.member_id:
        raise ApiError(404, "not_found", what="Projet", id=project_id)
    return project


async def record_consent(
    session: AsyncSession,
    project_id: str,
    data: ConsentCreate,
    *,
    who: Principal,
    deps: Deps,
    commit: bool = True,
) -> Consent:
    await project_for_owner(session, project_id, who)
    consent = _record_consent(session, project_id, data, who=who, deps=deps)
    if commit:
        await session.commit()
    return consent


# Built once (this runs for every referral sent): see `active_consent`.
_ACTIVE_CONSENTS = select(Consent).where(
    Consent.project_id == bindparam("project_id"), col(Consent.withdrawn_at).is_(None)
)


async def active_consent(session: AsyncSession, project_id: str, scope: str) -> Consent | None:
    rows = await session.exec(_ACTIVE_CONSENTS, params={"project_id": project_id})
    return next((c for c in rows.all() if scope in c.scopes), None)


async def withdraw_consent(
    session: AsyncSession, consent_id: str, *, actor: str, deps: Deps, cancel_open: bool = True
) -> Consent:
    """Withdrawal cancels the project's open referrals (nothing more may be shared)."""
    consent = await session.get(Consent, consent_id)
    if consent is None:
        raise ApiError(404, "not_found", what="Consentement", id=consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = deps.clock.now()
        session.add(consent)
        deps.emit(
            session,
            ConsentWithdrawn(project_id=consent.project_id, consent_id=consent.id, actor=actor),
        )
        if cancel_open:
            await cancel_open_referrals(
                session, consent.project_id, actor=actor, deps=deps, cause="consentement_retire"
            )
        await session.commit()
        log.info("consent %s withdrawn on project %s", consent.id, consent.project_id)
    return consent


async def read_project(
    session: AsyncSession, project: Project, *, who: Principal, deps: Deps, purpose: str
) -> ProjectPublic:
    """The project as `who` may see it; every read of personal data is logged."""
    facts = project.model_dump()
    public = ProjectPublic.model_validate(
        facts, update={"title": None, "porteur": None, "erased": project.erased_at is not None}
    )
    shares = await _sharing(session, project, who)
    if shares is None or project.sealed is None:
        return public
    key_row = await session.get(ProjectKey, project.id)
    try:
        key = deps.vault.project_key(project.id, key_row.sealed_key if key_row else None)
    except ShreddedError:
        return public
    data = deps.vault.open(key, project.id, project.sealed)
    public.title, public.description, public.needs = (
        data["title"],
        data["description"],
        data["needs"],
    )
    if shares == "contact":
        public.porteur = Porteur.model_validate(data["porteur"])
    session.add(
        AccessLogEntry(
            project_id=project.id, reader=who.subject, purpose=purpose, at=deps.clock.now()
        )
    )
    await session.commit()
    return public


async def _sharing(session: AsyncSession, project: Project, who: Principal) -> str | None:
    """'contact' (everything), 'file' (no contact details) or None (facts only)."""
    if who.member_id == project.owner_member_id:
        return "contact"
    if who.member_id is None or await active_consent(session, project.id, SHARING_SCOPE) is None:
        return None
    rows = await session.exec(
        select(Referral.status).where(
            Referral.project_id == project.id, Referral.receiver_member_id == who.member_id
        )
    )
    statuses = set(rows.all())
    if not statuses:
        return None
    return "contact" if statuses & CONTACT_VISIBLE else "file"


async def erase_project(
    session: AsyncSession, project_id: str, *, actor: str, deps: Deps
) -> Project:
    """Crypto-shredding: the key goes, so every sealed value of the project is unreadable."""
    project = await session.get(Project, project_id)
    if project is None:
        raise ApiError(404, "not_found", what="Projet", id=project_id)
    if project.erased_at is None:
        # Nothing may go on once the porteur's data is gone: open referrals are cancelled.
        await cancel_open_referrals(session, project_id, actor=actor, deps=deps, cause="effacement")
        key_row = await session.get(ProjectKey, project_id)
        if key_row is not None:
            await session.delete(key_row)
        project.sealed, project.erased_at = None, deps.clock.now()
        project.external_ref = None
        session.add(project)
        deps.emit(session, ProjectErased(project_id=project_id, actor=actor))
        await session.commit()
        log.info("project %s erased", project_id)
    return project


async def cancel_open_referrals(
    session: AsyncSession, project_id: str, *, actor: str, deps: Deps, cause: str
) -> None:
    """Cancel, on the sender's behalf, every open referral of a project (no commit)."""
    from services.referral.handlers.referrals import apply_action  # circular by nature

    rows = await session.exec(
        select(Referral).where(
            Referral.project_id == project_id, col(Referral.status).in_([s.value for s in OPEN])
        )
    )
    for referral in rows.all():
        await apply_action(
            session,
            referral,
            "cancel",
            actor=actor,
            actor_member=None,
            deps=deps,
            details={"cause": cause},
            system=True,
        )
