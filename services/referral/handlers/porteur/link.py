"""The porteur's private link: where the request stands, their data, consent, erasure.

Whoever holds the link acts for the porteur: the secret (256 bits, base64url) is never
stored, only its SHA-256, which is the row's key. What the link shows carries no personal
data; the download carries all of it, decrypted, and is written to the access log.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.errors import ApiError
from services.kit.i18n import Lang
from services.referral import domain
from services.referral.crypto import ShreddedError
from services.referral.handlers.common import Deps
from services.referral.handlers.projects import erase_project, withdraw_consent
from services.referral.models import (
    AccessLogEntry,
    Consent,
    KnownMember,
    Message,
    PorteurLink,
    Project,
    ProjectFacts,
    ProjectKey,
    Referral,
)

log = logging.getLogger("relais.referral")

LINK_ACTOR = "porteur:private-link"
LINK_PATH = "/v1/public/requests/"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
CONSENT_FIELDS = {"id", "text_version", "scopes", "collected_by", "collected_at", "withdrawn_at"}

# --- labels the porteur reads (data, French and English) --------------------------------
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "sent": (
        "Envoyée : en attente de la réponse de la structure",
        "Sent: waiting for the member's answer",
    ),
    "info_requested": (
        "La structure demande des précisions",
        "The member asks for more information",
    ),
    "accepted": (
        "Acceptée : la structure va vous contacter",
        "Accepted: the member will contact you",
    ),
    "declined": ("Déclinée par la structure", "Declined by the member"),
    "cancelled": ("Annulée", "Cancelled"),
    "expired": (
        "Expirée : la structure n'a pas répondu à temps",
        "Expired: the member did not answer in time",
    ),
    "in_progress": ("Accompagnement en cours", "Support under way"),
    "on_hold": ("Accompagnement en pause", "Support on hold"),
    "completed": ("Accompagnement terminé", "Support completed"),
    "failed": ("Accompagnement interrompu", "Support stopped"),
    "consentement_retire": (
        "Consentement retiré : votre demande est annulée",
        "Consent withdrawn: your request is cancelled",
    ),
    "efface": (
        "Demande effacée : vos données personnelles ont été supprimées",
        "Request erased: your personal data has been deleted",
    ),
}


def label(code: str, lang: Lang = "fr") -> str:
    fr, en = STATUS_LABELS.get(code, (code, code))
    return fr if lang == "fr" else en


def _reason(code: str | None, lang: Lang) -> str | None:
    if code is None:
        return None
    fr, en = domain.DECLINE_REASONS.get(code, (code, code))
    return fr if lang == "fr" else en


# --- the secret ----------------------------------------------------------------------------
def new_secret() -> tuple[str, str]:
    """(secret for the porteur's link, its hash to store)."""
    secret = secrets.token_urlsafe(32)  # 256 bits
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_for(secret: str, deps: Deps) -> str:
    return deps.settings.base_url.rstrip("/") + LINK_PATH + secret


async def resolve(session: AsyncSession, secret: str) -> PorteurLink:
    link = await session.get(PorteurLink, hash_secret(secret)) if _SECRET.match(secret) else None
    if link is None:
        raise ApiError(404, "public.link_unknown")
    return link


async def _project_of(session: AsyncSession, link: PorteurLink) -> Project:
    project = await session.get(Project, link.project_id)
    if project is None:  # pragma: no cover - projects are erased, never deleted
        raise ApiError(404, "public.link_unknown")
    return project


async def _referrals(session: AsyncSession, project_id: str) -> list[Referral]:
    rows = await session.exec(
        select(Referral)
        .where(Referral.project_id == project_id)
        .order_by(col(Referral.sent_at), col(Referral.id))
    )
    return list(rows.all())


async def _member_names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    rows = await session.exec(select(KnownMember).where(col(KnownMember.id).in_(list(ids))))
    return {m.id: m.name for m in rows.all()}


async def _consents(session: AsyncSession, project_id: str) -> list[Consent]:
    rows = await session.exec(
        select(Consent).where(Consent.project_id == project_id).order_by(col(Consent.collected_at))
    )
    return list(rows.all())


async def request_status(
    session: AsyncSession, secret: str, *, deps: Deps, lang: Lang = "fr"
) -> dict[str, Any]:
    """Where the request stands, and where the journey went after it (no personal data)."""
    link = await resolve(session, secret)
    project = await _project_of(session, link)
    referrals = await _referrals(session, project.id)
    names = await _member_names(session, {r.receiver_member_id for r in referrals})
    consents = await _consents(session, project.id)
    consent_active = any(c.withdrawn_at is None for c in consents)
    origin = next((r for r in referrals if r.id == link.referral_id), None)
    if project.erased_at is not None:
        status = "efface"
    elif not consent_active:
        status = "consentement_retire"
    else:
        status = origin.status if origin else "cancelled"
    base = link_for(secret, deps)
    erased = project.erased_at is not None
    return {
        "reference": link.referral_id,
        "status": status,
        "label": label(status, lang),
        "member": {
            "id": origin.receiver_member_id if origin else None,
            "name": names.get(origin.receiver_member_id) if origin else None,
        },
        "sent_at": origin.sent_at if origin else link.created_at,
        "updated_at": origin.updated_at if origin else link.created_at,
        "consent": "active" if consent_active else "withdrawn",
        "erased": erased,
        "erased_at": project.erased_at,
        "journey": [
            {
                "reference": r.id,
                "member_name": names.get(r.receiver_member_id),
                "status": r.status,
                "label": label(r.status, lang),
                "decline_reason": _reason(r.decline_reason, lang),
                "redirected_to": r.redirected_to,
                "since": r.updated_at,
            }
            for r in referrals
        ],
        "actions": {}
        if erased
        else {
            "data": base + "/data",
            "withdraw_consent": base + "/withdraw-consent" if consent_active else None,
            "erase": base + "/erase",
        },
    }


async def porteur_data(session: AsyncSession, secret: str, *, deps: Deps) -> dict[str, Any]:
    """Everything the service holds about the porteur, decrypted (GDPR art. 15 and 20)."""
    link = await resolve(session, secret)
    project = await _project_of(session, link)
    key_row = await session.get(ProjectKey, project.id)
    if project.erased_at is not None or project.sealed is None or key_row is None:
        raise ApiError(410, "public.erased")
    try:
        key = deps.vault.project_key(project.id, key_row.sealed_key)
    except ShreddedError as exc:  # pragma: no cover - the key row is gone once shredded
        raise ApiError(410, "public.erased") from exc
    sealed = deps.vault.open(key, project.id, project.sealed)
    referrals = await _referrals(session, project.id)
    messages = (
        await session.exec(
            select(Message)
            .where(Message.project_id == project.id)
            .order_by(col(Message.at), col(Message.id))
        )
    ).all()
    names = await _member_names(
        session,
        {r.receiver_member_id for r in referrals}
        | {m.author_member_id for m in messages}
        | {project.owner_member_id},
    )
    reads = (
        await session.exec(
            select(AccessLogEntry)
            .where(AccessLogEntry.project_id == project.id)
            .order_by(col(AccessLogEntry.at), col(AccessLogEntry.id))
        )
    ).all()
    now = deps.clock.now()
    session.add(
        AccessLogEntry(project_id=project.id, reader=LINK_ACTOR, purpose="export_porteur", at=now)
    )
    await session.commit()
    return {
        "exported_at": now,
        "reference": link.referral_id,
        "porteur": sealed["porteur"],
        "project": {
            "id": project.id,
            "title": sealed["title"],
            "description": sealed["description"],
            "needs": sealed["needs"],
            **project.model_dump(mode="json", include=set(ProjectFacts.model_fields)),
            "held_by": {"id": project.owner_member_id, "name": names.get(project.owner_member_id)},
            "created_at": project.created_at,
        },
        "consents": [
            c.model_dump(mode="json", include=CONSENT_FIELDS)
            for c in await _consents(session, project.id)
        ],
        "referrals": [
            {
                "reference": r.id,
                "to": names.get(r.receiver_member_id, r.receiver_member_id),
                "status": r.status,
                "label": label(r.status),
                "decline_reason": r.decline_reason,
                "outcome": r.outcome,
                "sent_at": r.sent_at,
                "updated_at": r.updated_at,
                "closed_at": r.closed_at,
            }
            for r in referrals
        ],
        "messages": [
            {
                "referral": m.referral_id,
                "author": names.get(m.author_member_id, m.author_member_id),
                "body": deps.vault.open(key, project.id, m.sealed_body)["body"]
                if m.sealed_body
                else None,
                "at": m.at,
            }
            for m in messages
        ],
        "access_log": [{"reader": r.reader, "purpose": r.purpose, "at": r.at} for r in reads],
    }


async def withdraw(session: AsyncSession, secret: str, *, deps: Deps) -> None:
    """The porteur withdraws every consent of their project: open referrals are cancelled."""
    link = await resolve(session, secret)
    for consent in await _consents(session, link.project_id):
        if consent.withdrawn_at is None:
            await withdraw_consent(session, consent.id, actor=LINK_ACTOR, deps=deps)
    log.info("porteur withdrew consent on project %s through their link", link.project_id)


async def erase(session: AsyncSession, secret: str, *, deps: Deps) -> None:
    """Erasure on the porteur's request: consent withdrawn (nothing stays open), then shredded."""
    link = await resolve(session, secret)
    project = await _project_of(session, link)
    if project.erased_at is not None:
        return
    await withdraw(session, secret, deps=deps)
    await erase_project(session, project.id, actor=LINK_ACTOR, deps=deps)
    log.info("porteur erased project %s through their link", project.id)
