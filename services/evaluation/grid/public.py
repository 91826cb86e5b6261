"""The porteurs' self-diagnosis (public, no token): questionnaire, answers -> profile, scores
and next steps with directory offers, and the optional contact hand-off to the referral
service. Kept here: a random id, the stage, the coded answers, the scores and profile, whether
a hand-off happened and the referral service's reference. Never kept: any identity, contact
detail, address (IP) or free text — the contact goes straight through to the referral service.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.evaluation.grid.evaluations import new_id
from services.evaluation.grid.grids import GridCatalog, InvalidEvaluation
from services.evaluation.grid.models import PublicAttempt, SelfDiagnosis, SelfDiagnosisAnswers
from services.evaluation.grid.outbound import Outbound
from services.evaluation.grid.selfdiag import Diagnosis, diagnose, packaged_questionnaire
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.evaluation")
OFFERS_PER_STEP = 3
HANDOFF_TITLE = "Demande issue de l'autodiagnostic"


@dataclass(frozen=True)
class PublicDeps:
    settings: EvaluationSettings
    clock: Clock
    outbound: Outbound
    catalog: GridCatalog


class RateLimited(ApiError):
    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(429, "public.rate_limited", minutes=max(1, -(-seconds // 60)))
        self.retry_after_seconds = seconds


class Refused(Exception):
    """The referral service refused the hand-off (4xx): its answer goes back as it is."""

    def __init__(self, status: int, body: Any, retry_after: str | None) -> None:
        super().__init__(status)
        self.status, self.body, self.retry_after = status, body, retry_after


def bucket_of(client_address: str, settings: EvaluationSettings) -> str:
    digest = hmac.new(
        settings.public_rate_key.encode(), f"self-diagnosis:{client_address}".encode(), "sha256"
    ).hexdigest()
    return f"ip:{digest[:64]}"


async def check_rate(
    session: AsyncSession, client_address: str, now: datetime, settings: EvaluationSettings
) -> None:
    """Count this attempt (committed at once, refused ones included) or refuse with 429."""
    bucket = bucket_of(client_address, settings)
    day_ago, hour_ago = now - timedelta(days=1), now - timedelta(hours=1)
    await session.exec(delete(PublicAttempt).where(col(PublicAttempt.at) <= day_ago))  # type: ignore[call-overload]
    times = sorted(
        (
            await session.exec(
                select(PublicAttempt.at).where(
                    PublicAttempt.bucket == bucket, col(PublicAttempt.at) > day_ago
                )
            )
        ).all()
    )
    last_hour = [t for t in times if t > hour_ago]
    if len(last_hour) >= settings.public_per_hour:
        await session.commit()
        raise RateLimited(last_hour[-settings.public_per_hour] + timedelta(hours=1) - now)
    if len(times) >= settings.public_per_day:
        await session.commit()
        raise RateLimited(times[-settings.public_per_day] + timedelta(days=1) - now)
    session.add(PublicAttempt(bucket=bucket, at=now))
    await session.commit()


def questionnaire_view(lang: str) -> dict[str, Any]:
    return packaged_questionnaire().view(lang)


def _offer(result: dict[str, Any]) -> dict[str, Any]:
    offer, member = result.get("offer", {}), result.get("member", {})
    return {
        "id": offer.get("id"),
        "title": offer.get("title"),
        "summary": offer.get("summary"),
        "url": offer.get("url"),
        "kind": offer.get("kind"),
        "member": {"id": member.get("id"), "name": member.get("name")},
        "score": result.get("score"),
    }


async def _steps(
    diagnosis: Diagnosis, body: SelfDiagnosisAnswers, deps: PublicDeps, lang: str
) -> tuple[list[dict[str, Any]], str | None]:
    lookups: list[Any] = []
    for step in diagnosis.steps:
        if body.commune is None:
            lookups.append(asyncio.sleep(0, result=None))
        else:
            lookups.append(
                deps.outbound.match(
                    commune=body.commune,
                    stage=diagnosis.stage,
                    kind=step.kind,
                    themes=body.themes,
                    lang=lang,
                    limit=OFFERS_PER_STEP,
                )
            )
    found = await asyncio.gather(*lookups)
    steps = [
        {
            "code": step.code,
            "label": step.label(lang),
            "kind": step.kind,
            "dimension": step.dimension,
            "priority": step.dimension in diagnosis.to_work_on,
            "offers": [_offer(r) for r in offers] if offers is not None else [],
        }
        for step, offers in zip(diagnosis.steps, found, strict=True)
    ]
    note = None
    if body.commune is None:
        note = (
            "Give your commune (INSEE code) to see the offers near you."
            if lang == "en"
            else "Indiquez votre commune (code INSEE) pour voir les offres proches de chez vous."
        )
    elif any(offers is None for offers in found):
        note = (
            "The directory of offers cannot be reached right now: here are the steps, "
            "try again later to see the offers."
            if lang == "en"
            else "L'annuaire des offres est momentanément injoignable : voici les étapes, "
            "réessayez plus tard pour voir les offres."
        )
    return steps, note


async def _hand_off(
    body: SelfDiagnosisAnswers, client_address: str | None, deps: PublicDeps, lang: str
) -> dict[str, Any]:
    contact = body.contact
    assert contact is not None
    if body.commune is None:
        raise ApiError(
            422,
            "validation",
            summary="commune : obligatoire pour être contacté·e (code INSEE de votre commune)",
        )
    form: dict[str, Any] = {
        "member_id": contact.member_id,
        "offer_id": contact.offer_id,
        "title": HANDOFF_TITLE,
        "stage": body.stage,
        "commune": body.commune,
        "themes": body.themes,
        "collective": contact.collective,
        "porteur": contact.porteur,
        "consent": contact.consent,
        "website": contact.website,
    }
    if contact.consent_text_version:
        form["consent_text_version"] = contact.consent_text_version
    try:
        response = await deps.outbound.self_refer(form, client_address=client_address, lang=lang)
    except httpx.HTTPError as exc:
        log.warning("self-referral hand-off failed: %s", type(exc).__name__)
        raise ApiError(503, "unavailable", reason="service d'orientation injoignable") from exc
    if response.status_code == 201:
        receipt: dict[str, Any] = response.json()
        return receipt
    if 400 <= response.status_code < 500:
        try:
            refused_body = response.json()
        except ValueError:
            refused_body = {"error": {"code": "rejected", "message": response.text[:200]}}
        raise Refused(response.status_code, refused_body, response.headers.get("retry-after"))
    raise ApiError(503, "unavailable", reason=f"service d'orientation ({response.status_code})")


async def take_self_diagnosis(
    session: AsyncSession,
    body: SelfDiagnosisAnswers,
    *,
    client_address: str | None,
    deps: PublicDeps,
    lang: str,
) -> dict[str, Any]:
    now = deps.clock.now()
    await check_rate(session, client_address or "unknown", now, deps.settings)
    questionnaire = packaged_questionnaire()
    try:
        diagnosis = diagnose(questionnaire, body.stage, body.answers)
    except InvalidEvaluation as exc:
        details = [{"field": p.field, "problem": p.text(lang)} for p in exc.problems]
        raise ApiError(422, "selfdiag.invalid", details=details, summary=exc.summary(lang)) from exc
    receipt = await _hand_off(body, client_address, deps, lang) if body.contact else None
    steps, note = await _steps(diagnosis, body, deps, lang)
    record = SelfDiagnosis(
        id=new_id("sdg"),
        questionnaire_version=questionnaire.version,
        taken_at=now,
        stage=diagnosis.stage,
        answers=diagnosis.answers,
        dimension_scores=diagnosis.dimension_scores,
        profile=diagnosis.profile.code,
        handed_off=receipt is not None,
        handoff_reference=(receipt or {}).get("reference"),
    )
    session.add(record)
    await session.commit()
    log.info("self-diagnosis %s (%s, handed off: %s)", record.id, record.profile, record.handed_off)
    grid = deps.catalog.get(deps.catalog.current)
    names = {d.code: d.label(lang) for d in grid.dimensions} if grid else {}
    return {
        "id": record.id,
        "questionnaire_version": questionnaire.version,
        "stage": diagnosis.stage,
        "profile": {"code": diagnosis.profile.code, "label": diagnosis.profile.label(lang)},
        "score": diagnosis.mean,
        "dimensions": [
            {"code": code, "label": names.get(code, code), "score": value}
            for code, value in diagnosis.dimension_scores.items()
        ],
        "strengths": diagnosis.strengths,
        "to_work_on": diagnosis.to_work_on,
        "steps": steps,
        "note": note,
        "handoff": receipt,
    }
