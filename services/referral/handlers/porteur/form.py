"""The public self-referral form: a porteur asks a member to contact them.

It becomes a project owned by the member asked (it was asked directly: it holds the file,
may orient onward and erase on request), the porteur's consent (collected by
`porteur:public-form`), a referral in the ordinary lifecycle whose sender is the porteur
(`SELF_REFERRAL_SENDER`, a role, not a member), and a private link.

The form is bounded: per client address and per contact, `per_hour` and `per_day` attempts
counted in the database (several instances share the count; the buckets are keyed hashes,
neither an address nor an email is stored), a body size cap (the API layer), a honeypot
field, a threshold of links in free text, the consent box.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events import referral as ev
from services.directory.geo import load as load_geography
from services.kit.auth import Principal
from services.kit.clock import add_calendar_days
from services.kit.errors import ApiError
from services.kit.i18n import Lang
from services.kit.timers import schedule
from services.referral import domain, policies
from services.referral.handlers.common import Deps
from services.referral.handlers.porteur.link import label, link_for, new_secret
from services.referral.handlers.projects import (
    SHARING_SCOPE,
    create_project,
    erase_project,
    present_information,
)
from services.referral.handlers.referrals import EXPIRY_TIMER, REMINDER_TIMER
from services.referral.models import (
    ConsentCreate,
    KnownMember,
    PorteurLink,
    Project,
    ProjectCreate,
    ProjectFacts,
    Referral,
    SelfReferralAttempt,
    SelfReferralForm,
    SelfReferralReceipt,
    TransitionRecord,
)

log = logging.getLogger("relais.referral")

SELF_REFERRAL_SENDER = "porteur"
"""`sender_member_id` of a self-referral: a role, never a person, never a member id."""
FORM_ACTOR = "porteur:public-form"
CONTACT_SCOPE = "contact_par_structure"
DEFAULT_TITLE = "Demande de contact"
_LINKS = re.compile(r"(?:https?://|www\.|\[url|<a\s)", re.IGNORECASE)


@dataclass(frozen=True)
class PublicLimits:
    """Bounds of the public form (per client address and per contact)."""

    max_body_bytes: int = 16_384
    per_hour: int = 5
    per_day: int = 20
    max_links: int = 2


LIMITS = PublicLimits()


class RateLimited(ApiError):
    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(429, "public.rate_limited", minutes=max(1, -(-seconds // 60)))
        self.retry_after_seconds = seconds


def _bucket(kind: str, value: str, deps: Deps) -> str:
    """A keyed hash: neither an address nor an email is stored, nor guessable from the row."""
    digest = hmac.new(
        deps.settings.master_key_bytes, f"rate-limit:{kind}:{value}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{kind}:{digest}"


def _contact_of(form: SelfReferralForm) -> str | None:
    if form.porteur.email:
        return str(form.porteur.email).strip().lower()
    if form.porteur.phone:
        return re.sub(r"\D", "", form.porteur.phone) or None
    return None


async def _check_rate(
    session: AsyncSession, buckets: list[str], now: datetime, limits: PublicLimits
) -> None:
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    for bucket in buckets:
        times = sorted(
            (
                await session.exec(
                    select(SelfReferralAttempt.at).where(
                        SelfReferralAttempt.bucket == bucket,
                        col(SelfReferralAttempt.at) > day_ago,
                    )
                )
            ).all()
        )
        last_hour = [t for t in times if t > hour_ago]
        if len(last_hour) >= limits.per_hour:
            raise RateLimited(last_hour[-limits.per_hour] + timedelta(hours=1) - now)
        if len(times) >= limits.per_day:
            raise RateLimited(times[-limits.per_day] + timedelta(days=1) - now)


def _check_abuse(form: SelfReferralForm, limits: PublicLimits) -> None:
    if form.website:  # a person never sees this field; robots fill every field
        raise ApiError(422, "public.rejected")
    if not form.consent:
        raise ApiError(422, "public.consent_required")
    if _contact_of(form) is None:
        raise ApiError(422, "public.contact_required")
    texts = [form.title, form.description, form.needs, form.porteur.name, *form.themes]
    found = sum(len(_LINKS.findall(text)) for text in texts if text)
    if found > limits.max_links or _LINKS.search(form.porteur.name):
        raise ApiError(422, "public.spam", found=found, max=limits.max_links)
    if form.stage not in domain.STAGES:
        raise ApiError(
            422,
            "validation",
            summary=f"stade inconnu « {form.stage} » ; stades : {', '.join(domain.STAGES)}",
        )
    if load_geography().commune(form.commune) is None:
        raise ApiError(422, "validation", summary=f"commune inconnue « {form.commune} »")


# --- the public form -----------------------------------------------------------------------
async def self_refer(
    session: AsyncSession,
    form: SelfReferralForm,
    *,
    client_address: str,
    deps: Deps,
    limits: PublicLimits = LIMITS,
    lang: Lang = "fr",
) -> SelfReferralReceipt:
    """Bound, check, then register the project, its consent, the referral and the link."""
    now = deps.clock.now()
    contact = _contact_of(form)
    buckets = [_bucket("ip", client_address, deps)]
    if contact:
        buckets.append(_bucket("contact", contact, deps))
    await _check_rate(session, buckets, now, limits)
    # Every attempt past the rate check counts, refused ones included: robots slow down too.
    session.add_all([SelfReferralAttempt(bucket=b, at=now) for b in buckets])
    await session.commit()
    _check_abuse(form, limits)

    receiver = await session.get(KnownMember, form.member_id)
    if receiver is None:
        raise ApiError(422, "member.unknown", id=form.member_id)
    if receiver.status != "active":
        raise ApiError(409, "public.member_unavailable")
    data = ProjectCreate(
        title=(form.title or "").strip() or DEFAULT_TITLE,
        description=form.description,
        needs=form.needs,
        stage=form.stage,
        commune=form.commune,
        themes=form.themes,
        collective=form.collective,
        legal_form=form.legal_form,
        structure_created_on=form.structure_created_on,
        porteur=form.porteur,
    )
    warnings = await _warnings(session, data, receiver, form.offer_id, now)

    # The member asked owns the file; the consent is the porteur's own, from the form.
    on_behalf = Principal(subject=FORM_ACTOR, member_id=receiver.id, network_ids=(), roles=())
    consent = ConsentCreate(
        text_version=form.consent_text_version,
        scopes=[SHARING_SCOPE, CONTACT_SCOPE],
        collected_by=FORM_ACTOR,
        collected_at=now,
    )
    project = await create_project(session, data, who=on_behalf, deps=deps, consent=consent)
    project_id = project.id
    try:
        referral, secret = await _open_request(session, project, receiver, form, warnings, deps)
    except Exception:
        # Nothing half-written: a project whose request could not be opened is shredded.
        await session.rollback()
        await erase_project(session, project_id, actor="system", deps=deps)
        raise
    log.info("self-referral %s to %s (project %s)", referral.id, receiver.id, project_id)
    return SelfReferralReceipt(
        reference=referral.id,
        link=link_for(secret, deps),
        status=referral.status,
        label=label(referral.status, lang),
    )


async def _warnings(
    session: AsyncSession,
    data: ProjectCreate,
    receiver: KnownMember,
    offer_id: str | None,
    now: datetime,
) -> list[str]:
    """The send-time policies; information an offer requires is a warning for the member."""
    draft = Project(
        owner_member_id=receiver.id,
        **data.model_dump(include=set(ProjectFacts.model_fields)),
        present_information=present_information(data),
        created_at=now,
        updated_at=now,
    )
    try:
        return await policies.check_send(session, draft, receiver, offer_id, now=now)
    except ApiError as exc:
        if exc.code != "referral.missing_information":
            raise
        missing = exc.params.get("missing")
        return [f"informations manquantes: {missing} (à demander au porteur)"]


async def _open_request(
    session: AsyncSession,
    project: Project,
    receiver: KnownMember,
    form: SelfReferralForm,
    warnings: list[str],
    deps: Deps,
) -> tuple[Referral, str]:
    now = deps.clock.now()
    referral = Referral(
        project_id=project.id,
        sender_member_id=SELF_REFERRAL_SENDER,
        receiver_member_id=receiver.id,
        offer_id=form.offer_id,
        network_id=min(receiver.network_ids) if receiver.network_ids else None,
        stage=project.stage,
        commune=project.commune,
        warnings=warnings,
        sent_at=now,
        updated_at=now,
    )
    session.add(referral)
    session.add(
        TransitionRecord(
            referral_id=referral.id,
            project_id=project.id,
            action="send",
            from_status=None,
            to_status=referral.status,
            actor=FORM_ACTOR,
            actor_member_id=None,
            details={"self_referral": True, "warnings": warnings},
            at=now,
        )
    )
    deps.emit(
        session,
        ev.ReferralSent(
            project_id=project.id,
            referral_id=referral.id,
            sender_member_id=SELF_REFERRAL_SENDER,
            receiver_member_id=receiver.id,
            offer_id=referral.offer_id,
            network_id=referral.network_id,
            stage=project.stage,
            commune=project.commune,
            themes=project.themes,
            actor=FORM_ACTOR,
        ),
    )
    policy = deps.settings.policy_for(referral.network_id)
    for kind, days in ((REMINDER_TIMER, policy.reminder_days), (EXPIRY_TIMER, policy.expiry_days)):
        await schedule(
            session,
            kind=kind,
            key=referral.id,
            due_at=add_calendar_days(now, days),
            payload={"referral_id": referral.id},
        )
    secret, secret_hash = new_secret()
    session.add(
        PorteurLink(
            secret_hash=secret_hash, project_id=project.id, referral_id=referral.id, created_at=now
        )
    )
    await session.commit()
    return referral, secret
