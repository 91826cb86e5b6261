"""GDPR accountability: automatic anonymisation of closed journeys, and the access log.

A journey is closed when none of its referrals is open; it closed at the latest of its
referrals' `closed_at` and the project's own `updated_at` (a project never referred is
closed since it was last touched). `anonymise_after_days` calendar days (Europe/Paris) after
that, its key is destroyed (crypto-shredding through `erase_project`): contacts and free
texts are gone, the pseudonymous facts and figures stay, downstream keeps its counts.

A daily durable timer finds the journeys due and schedules one timer per project, so each
erasure is its own transaction (retried on its own, safe with several instances); the
per-project timer checks again before it erases (a new referral may have reopened it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import case, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.clock import PARIS, Clock, add_calendar_days
from services.kit.db import Database
from services.kit.errors import ApiError
from services.kit.timers import Fired, ensure_scheduled, schedule
from services.referral.domain import OPEN
from services.referral.handlers.common import Deps
from services.referral.handlers.projects import erase_project
from services.referral.models import AccessLogEntry, Project, Referral, SelfReferralAttempt

log = logging.getLogger("relais.referral")

RETENTION_TIMER = "referral.retention"
ANONYMISE_TIMER = "referral.anonymise"
ANONYMISATION_ACTOR = "system:anonymisation"
DAILY_AT = time(3, 30)


def next_daily_run(now: datetime, at: time = DAILY_AT) -> datetime:
    """The next `at` Europe/Paris after `now` ("daily" is a Paris calendar day)."""
    local = now.astimezone(PARIS)
    candidate = datetime.combine(local.date(), at, tzinfo=PARIS)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=PARIS)
    return candidate


def cutoff(now: datetime, deps: Deps) -> datetime:
    """Journeys closed at or before this moment are due for anonymisation."""
    return add_calendar_days(now, -deps.settings.anonymise_after_days)


async def schedule_daily(db: Database, clock: Clock) -> None:
    """At start-up: make sure the daily retention run is pending (one row, any instance)."""
    try:
        async with db.transaction() as session:
            await ensure_scheduled(
                session, kind=RETENTION_TIMER, key="daily", due_at=next_daily_run(clock.now())
            )
    except IntegrityError:
        log.info("retention: another instance scheduled the daily run first")


async def due_projects(
    session: AsyncSession, before: datetime, *, project_id: str | None = None
) -> list[str]:
    """Projects not yet erased whose journey closed at or before `before`."""
    still_open = func.sum(case((col(Referral.status).in_([s.value for s in OPEN]), 1), else_=0))
    query = (
        select(Project.id, func.max(Referral.closed_at), still_open)
        .outerjoin(Referral, col(Referral.project_id) == col(Project.id))
        .where(col(Project.erased_at).is_(None), col(Project.updated_at) <= before)
        .group_by(col(Project.id))
        .order_by(col(Project.id))
    )
    if project_id is not None:
        query = query.where(col(Project.id) == project_id)
    due = []
    for pid, last_closed, open_count in (await session.exec(query)).all():
        if open_count:
            continue
        if last_closed is not None and _aware(last_closed) > before:
            continue
        due.append(pid)
    return due


def _aware(moment: datetime | str) -> datetime:
    """An aggregate may come back raw from SQLite (text, naive): read it as UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def on_retention_due(fired: Fired, deps: Deps) -> None:
    """The daily run: schedule the anonymisation of each journey due; purge old attempts."""
    session, now = fired.session, fired.clock.now()
    due = await due_projects(session, cutoff(now, deps))
    for project_id in due:
        await ensure_scheduled(session, kind=ANONYMISE_TIMER, key=project_id, due_at=now)
    await session.exec(
        delete(SelfReferralAttempt).where(  # type: ignore[call-overload]
            col(SelfReferralAttempt.at) < now - timedelta(days=1)
        )
    )
    await schedule(session, kind=RETENTION_TIMER, key="daily", due_at=next_daily_run(now))
    if due:
        log.info("retention: %d closed journey(s) due for anonymisation", len(due))


async def on_anonymise_due(fired: Fired, deps: Deps) -> None:
    project_id = fired.timer.key
    now = fired.clock.now()
    if not await due_projects(fired.session, cutoff(now, deps), project_id=project_id):
        return  # reopened since the daily run, or already erased
    await erase_project(fired.session, project_id, actor=ANONYMISATION_ACTOR, deps=deps)
    log.info(
        "project %s anonymised (journey closed over %d days ago)",
        project_id,
        deps.settings.anonymise_after_days,
    )


# --- the access log ------------------------------------------------------------------------
async def access_log(
    session: AsyncSession, project_id: str, *, who: Principal
) -> list[AccessLogEntry]:
    """Every read of the project's personal data: for its owner and the operators."""
    project = await session.get(Project, project_id)
    if project is None or not await _may_audit(session, project, who):
        raise ApiError(404, "not_found", what="Projet", id=project_id)
    rows = await session.exec(
        select(AccessLogEntry)
        .where(AccessLogEntry.project_id == project_id)
        .order_by(col(AccessLogEntry.at), col(AccessLogEntry.id))
    )
    return list(rows.all())


async def _may_audit(session: AsyncSession, project: Project, who: Principal) -> bool:
    if who.has_role("platform_admin"):
        return True
    if who.member_id is not None and who.member_id == project.owner_member_id:
        return True
    if not who.has_role("network_operator") or not who.network_ids:
        return False
    networks = await session.exec(
        select(Referral.network_id).where(
            Referral.project_id == project.id,
            col(Referral.network_id).in_(list(who.network_ids)),
        )
    )
    return networks.first() is not None
