"""Follow-up of the structures created through a referral, at 1, 2 and 3 years.

A referral completed with the outcome `structure_creee` gets three follow-ups, each on a
durable kit timer due on the same Paris calendar date 1, 2 and 3 years after the completion.
When a timer fires the follow-up becomes `due` and `FollowUpDue` goes out (notify turns it
into a reminder for the adviser assigned on the receiving side, else the member's contact).
The member answers over HTTP (still active? jobs?): `FollowUpAnswered`. A structure reported
closed is not asked again: its later follow-ups are answered "not active" on its behalf, so
survival at three years counts it as closed, not as missing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.evaluation import FollowUpAnswered, FollowUpDue
from contracts.events.referral import ReferralCompleted
from services.evaluation.grid.evaluations import Emit, new_id
from services.evaluation.grid.models import (
    FollowUp,
    FollowUpAnswer,
    FollowUpPublic,
    Participant,
    ReferralAdviser,
)
from services.kit.auth import Principal
from services.kit.clock import PARIS, Clock
from services.kit.consumer import HandlerContext
from services.kit.errors import ApiError
from services.kit.timers import Fired, cancel, schedule

log = logging.getLogger("relais.evaluation")

FOLLOW_UP_TIMER = "evaluation.followup.due"
STRUCTURE_CREATED = "structure_creee"
YEARS = (1, 2, 3)
INFERRED = "inferred"


def add_calendar_years(moment: datetime, years: int) -> datetime:
    """Same Paris wall-clock date and time `years` later (29 February -> 28 February)."""
    local = moment.astimezone(PARIS).replace(tzinfo=None)
    try:
        shifted = local.replace(year=local.year + years)
    except ValueError:  # 29 February in a non-leap year
        shifted = local.replace(year=local.year + years, day=28)
    return shifted.replace(tzinfo=PARIS).astimezone(UTC)


async def on_referral_completed(evt: ReferralCompleted, ctx: HandlerContext) -> None:
    if evt.outcome != STRUCTURE_CREATED:
        return
    completed_at = ctx.envelope.time
    network = (
        await ctx.session.exec(
            select(Participant.network_id).where(Participant.referral_id == evt.referral_id)
        )
    ).first()
    for years in YEARS:
        exists = (
            await ctx.session.exec(
                select(FollowUp).where(
                    FollowUp.referral_id == evt.referral_id, FollowUp.years_after == years
                )
            )
        ).first()
        if exists is not None:
            continue
        follow_up = FollowUp(
            id=new_id("fup"),
            referral_id=evt.referral_id,
            project_id=evt.project_id,
            member_id=evt.receiver_member_id,
            network_id=network,
            years_after=years,
            completed_at=completed_at,
            due_at=add_calendar_years(completed_at, years),
        )
        ctx.session.add(follow_up)
        await schedule(
            ctx.session,
            kind=FOLLOW_UP_TIMER,
            key=follow_up.id,
            due_at=follow_up.due_at,
            payload={"follow_up_id": follow_up.id},
        )
    log.info("structure created by referral %s: follow-ups at 1, 2, 3 years", evt.referral_id)


def follow_up_timer(emit: Emit) -> Callable[[Fired], Awaitable[None]]:
    async def fire(fired: Fired) -> None:
        follow_up = await fired.session.get(FollowUp, fired.timer.key)
        if follow_up is None or follow_up.status != "scheduled":
            return  # answered on its behalf (structure closed) or gone
        adviser = await fired.session.get(ReferralAdviser, follow_up.referral_id)
        follow_up.status = "due"
        fired.session.add(follow_up)
        emit(
            fired.session,
            FollowUpDue(
                project_id=follow_up.project_id,
                follow_up_id=follow_up.id,
                member_id=follow_up.member_id,
                years_after=follow_up.years_after,
                referral_id=follow_up.referral_id,
                adviser_user_id=adviser.adviser_user_id if adviser else None,
            ),
        )
        log.info("follow-up %s due (%d year(s))", follow_up.id, follow_up.years_after)

    return fire


def public(row: FollowUp) -> FollowUpPublic:
    return FollowUpPublic.model_validate(row, from_attributes=True)


async def answer_follow_up(
    session: AsyncSession,
    follow_up_id: str,
    body: FollowUpAnswer,
    *,
    principal: Principal,
    clock: Clock,
    emit: Emit,
) -> FollowUp:
    follow_up = await session.get(FollowUp, follow_up_id, with_for_update=True)
    if follow_up is None or not can_read(follow_up, principal):
        raise ApiError(404, "not_found", what="Suivi", id=follow_up_id)
    if not (principal.member_id == follow_up.member_id or principal.has_role("platform_admin")):
        raise ApiError(403, "auth.forbidden", reason="seule la structure accompagnatrice répond")
    if follow_up.status == "scheduled":
        raise ApiError(409, "followup.not_due", due=follow_up.due_at.astimezone(PARIS).date())
    now = clock.now()
    follow_up.status, follow_up.still_active, follow_up.jobs = (
        "answered",
        body.still_active,
        body.jobs,
    )
    follow_up.answered_by, follow_up.answered_at = principal.subject, now
    session.add(follow_up)
    if not body.still_active:
        await _close_later(session, follow_up, now)
    emit(
        session,
        FollowUpAnswered(
            project_id=follow_up.project_id,
            follow_up_id=follow_up.id,
            still_active=body.still_active,
            jobs=body.jobs,
            member_id=follow_up.member_id,
            referral_id=follow_up.referral_id,
            years_after=follow_up.years_after,
        ),
    )
    await session.commit()
    log.info("follow-up %s answered (active: %s)", follow_up.id, body.still_active)
    return follow_up


async def _close_later(session: AsyncSession, follow_up: FollowUp, now: datetime) -> None:
    later = (
        await session.exec(
            select(FollowUp).where(
                FollowUp.referral_id == follow_up.referral_id,
                col(FollowUp.years_after) > follow_up.years_after,
                FollowUp.status != "answered",
            )
        )
    ).all()
    for row in later:
        row.status, row.still_active = "answered", False
        row.answered_by, row.answered_at = f"{INFERRED}:{follow_up.id}", now
        session.add(row)
        await cancel(session, kind=FOLLOW_UP_TIMER, key=row.id)


def can_read(row: FollowUp, principal: Principal) -> bool:
    if principal.has_role("platform_admin") or principal.member_id == row.member_id:
        return True
    return (
        principal.has_role("network_operator", "funder")
        and row.network_id is not None
        and row.network_id in principal.network_ids
    )


async def list_follow_ups(
    session: AsyncSession, principal: Principal, *, status: str | None, member_id: str | None
) -> list[FollowUpPublic]:
    query = select(FollowUp).order_by(col(FollowUp.due_at), col(FollowUp.id))
    if status:
        query = query.where(FollowUp.status == status)
    if member_id:
        query = query.where(FollowUp.member_id == member_id)
    if not principal.has_role("platform_admin"):
        scope = col(FollowUp.member_id) == (principal.member_id or "")
        if principal.has_role("network_operator", "funder") and principal.network_ids:
            scope = scope | col(FollowUp.network_id).in_(principal.network_ids)
        query = query.where(scope)
    return [public(r) for r in (await session.exec(query)).all()]


# --- survival -------------------------------------------------------------------------------


class YearFigures(BaseModel):
    years_after: int
    followed: int  # follow-ups come due (asked), answered or not
    answered: int
    still_active: int
    survival_rate: float | None  # still active / answered


class SurvivalFigures(BaseModel):
    structures: int  # created structures under follow-up
    by_year: list[YearFigures]

    def year(self, years_after: int) -> YearFigures:
        return next(y for y in self.by_year if y.years_after == years_after)


async def survival(
    session: AsyncSession, member_ids: Collection[str] | None = None, network_id: str | None = None
) -> SurvivalFigures:
    """Structures followed, answered and still active at 1, 2 and 3 years (optionally for some
    members or one network). A structure reported closed counts as not active afterwards."""
    query = select(FollowUp)
    if member_ids is not None:
        query = query.where(col(FollowUp.member_id).in_(list(member_ids)))
    if network_id is not None:
        query = query.where(FollowUp.network_id == network_id)
    rows = (await session.exec(query)).all()
    by_year = []
    for years in YEARS:
        of_year = [r for r in rows if r.years_after == years and r.status != "scheduled"]
        answered = [r for r in of_year if r.status == "answered"]
        active = sum(1 for r in answered if r.still_active)
        by_year.append(
            YearFigures(
                years_after=years,
                followed=len(of_year),
                answered=len(answered),
                still_active=active,
                survival_rate=round(active / len(answered), 4) if answered else None,
            )
        )
    return SurvivalFigures(structures=len({r.referral_id for r in rows}), by_year=by_year)
