"""Use cases of the evaluation grid: record an evaluation (the latest per project, member and
moment counts; the one it replaces is kept and marked superseded), list a journey's."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.events.evaluation import EvaluationRecorded
from services.evaluation.grid.grids import GridCatalog, InvalidEvaluation, score
from services.evaluation.grid.journeys import journey_of
from services.evaluation.grid.models import Evaluation, EvaluationCreate, EvaluationPublic
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.evaluation")
Emit = Callable[[AsyncSession, Event], Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def public(evaluation: Evaluation) -> EvaluationPublic:
    return EvaluationPublic(
        id=evaluation.id,
        project_id=evaluation.project_id,
        member_id=evaluation.member_id,
        moment=evaluation.moment,
        grid_version=evaluation.grid_version,
        filled_by=evaluation.filled_by,
        recorded_at=evaluation.recorded_at,
        scores=dict(evaluation.criterion_scores),
        dimension_scores=dict(evaluation.dimension_scores),
        sdgs=list(evaluation.sdgs),
        counts=evaluation.superseded_by is None,
        superseded_by=evaluation.superseded_by,
    )


async def record_evaluation(
    session: AsyncSession,
    project_id: str,
    body: EvaluationCreate,
    *,
    member_id: str,
    user_id: str,
    catalog: GridCatalog,
    clock: Clock,
    emit: Emit,
    lang: str = "fr",
) -> Evaluation:
    version = body.grid_version or catalog.current
    grid = catalog.get(version)
    if grid is None:
        raise ApiError(
            422, "grid.unknown_version", version=version, known=", ".join(catalog.versions())
        )
    try:
        scored = score(grid, body.moment, body.scores, body.sdgs)
    except InvalidEvaluation as exc:
        details = [{"field": p.field, "problem": p.text(lang)} for p in exc.problems]
        raise ApiError(
            422, "grid.invalid_evaluation", details=details, summary=exc.summary(lang)
        ) from exc
    previous = (
        await session.exec(
            select(Evaluation).where(
                Evaluation.project_id == project_id,
                Evaluation.member_id == member_id,
                Evaluation.moment == body.moment,
                col(Evaluation.superseded_by).is_(None),
            )
        )
    ).all()
    evaluation = Evaluation(
        id=new_id("evl"),
        project_id=project_id,
        member_id=member_id,
        moment=body.moment,
        grid_version=grid.version,
        filled_by=user_id,
        recorded_at=clock.now(),
        criterion_scores=scored.criterion_scores,
        dimension_scores=scored.dimension_scores,
        sdgs=scored.sdgs,
    )
    for old in previous:
        old.superseded_by = evaluation.id
        session.add(old)
    session.add(evaluation)
    emit(
        session,
        EvaluationRecorded(
            project_id=project_id,
            evaluation_id=evaluation.id,
            member_id=member_id,
            grid_version=grid.version,
            moment=body.moment,
            filled_by=user_id if _is_id(user_id) else None,
            dimension_scores=scored.dimension_scores,
            sdgs=scored.sdgs,
            supersedes=previous[-1].id if previous else None,
        ),
    )
    await session.commit()
    log.info(
        "evaluation %s (%s, grid %s) recorded for project %s by member %s",
        evaluation.id,
        body.moment,
        grid.version,
        project_id,
        member_id,
    )
    return evaluation


def _is_id(value: str) -> bool:
    return 0 < len(value) <= 64 and all(c.isalnum() or c in "_.:-" for c in value)


async def list_evaluations(session: AsyncSession, project_id: str) -> dict[str, Any]:
    rows = list(
        (
            await session.exec(
                select(Evaluation)
                .where(Evaluation.project_id == project_id)
                .order_by(col(Evaluation.recorded_at), col(Evaluation.id))
            )
        ).all()
    )
    journey = journey_of(project_id, rows)
    return {
        "project_id": project_id,
        "evaluations": [public(r) for r in rows],
        "journey": journey,
    }
