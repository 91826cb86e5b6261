"""What the reports read: the counted entry and exit evaluations of journeys, and the change.

Which evaluation counts, explicitly:
* per (project, member, moment) the latest recorded evaluation counts; older ones are kept,
  marked superseded, and never counted;
* per journey (project), the entry that counts is the earliest counted entry (the grid filled
  when the porteur entered the chain), the exit that counts is the latest counted exit (the
  grid filled when they left it), whichever members filled them; both name their member and
  the user who filled them.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.evaluation.grid.models import CountedEvaluation, Evaluation, JourneyEvaluation

CHUNK = 500


def counted(evaluation: Evaluation) -> CountedEvaluation:
    return CountedEvaluation(
        evaluation_id=evaluation.id,
        member_id=evaluation.member_id,
        filled_by=evaluation.filled_by,
        recorded_at=evaluation.recorded_at,
        grid_version=evaluation.grid_version,
        moment=evaluation.moment,
        dimension_scores=dict(evaluation.dimension_scores),
        sdgs=list(evaluation.sdgs),
    )


def change(
    entry: CountedEvaluation | None, exit_: CountedEvaluation | None
) -> dict[str, float | None]:
    """exit - entry per dimension; None for a dimension missing on either side."""
    dimensions = sorted(
        {*(entry.dimension_scores if entry else {}), *(exit_.dimension_scores if exit_ else {})}
    )
    result: dict[str, float | None] = {}
    for dimension in dimensions:
        before = entry.dimension_scores.get(dimension) if entry else None
        after = exit_.dimension_scores.get(dimension) if exit_ else None
        result[dimension] = None if before is None or after is None else round(after - before, 4)
    return result


def journey_of(project_id: str, evaluations: list[Evaluation]) -> JourneyEvaluation:
    live = [e for e in evaluations if e.superseded_by is None]
    entries = sorted((e for e in live if e.moment == "entry"), key=lambda e: (e.recorded_at, e.id))
    exits = sorted((e for e in live if e.moment == "exit"), key=lambda e: (e.recorded_at, e.id))
    entry = counted(entries[0]) if entries else None
    exit_ = counted(exits[-1]) if exits else None
    return JourneyEvaluation(
        project_id=project_id, entry=entry, exit=exit_, change=change(entry, exit_)
    )


async def journey_evaluations(
    session: AsyncSession, project_ids: Collection[str]
) -> dict[str, JourneyEvaluation]:
    """The counted evaluations of each journey that has at least one; projects without an
    evaluation are absent from the result."""
    by_project: dict[str, list[Evaluation]] = {}
    ids = sorted(set(project_ids))
    for start in range(0, len(ids), CHUNK):
        rows = (
            await session.exec(
                select(Evaluation).where(
                    col(Evaluation.project_id).in_(ids[start : start + CHUNK]),
                    col(Evaluation.superseded_by).is_(None),
                )
            )
        ).all()
        for row in rows:
            by_project.setdefault(row.project_id, []).append(row)
    return {pid: journey_of(pid, rows) for pid, rows in sorted(by_project.items())}
