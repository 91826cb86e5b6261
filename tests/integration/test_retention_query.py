"""Which journeys are due for anonymisation: the same answer on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.kit.db import Database
from services.referral.handlers.retention import due_projects
from services.referral.models import MODELS, Project, Referral

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _project(pid: str, **changes: object) -> Project:
    fields: dict[str, object] = {"created_at": T0, "updated_at": T0, **changes}
    return Project(id=pid, owner_member_id="mbr_a", stage="idee", commune="80021", **fields)


def _referral(pid: str, status: str, closed_at: datetime | None) -> Referral:
    return Referral(
        project_id=pid,
        sender_member_id="porteur",
        receiver_member_id="mbr_a",
        status=status,
        stage="idee",
        commune="80021",
        sent_at=T0,
        updated_at=closed_at or T0,
        closed_at=closed_at,
    )


async def test_due_journeys(database_url: str) -> None:
    db = Database(database_url, MODELS)
    await db.create_all()
    try:
        async with db.transaction() as session:
            session.add_all(
                [
                    _project("prj_closed_early"),
                    _referral("prj_closed_early", "completed", T0 + timedelta(days=1)),
                    _referral("prj_closed_early", "declined", T0 + timedelta(days=2)),
                    _project("prj_closed_late"),
                    _referral("prj_closed_late", "completed", T0 + timedelta(days=1)),
                    _referral("prj_closed_late", "failed", T0 + timedelta(days=20)),
                    _project("prj_still_open"),
                    _referral("prj_still_open", "completed", T0 + timedelta(days=1)),
                    _referral("prj_still_open", "in_progress", None),
                    _project("prj_never_referred"),
                    _project("prj_touched_later", updated_at=T0 + timedelta(days=30)),
                    _project("prj_erased", erased_at=T0),
                ]
            )
        async with db.session() as session:
            before = T0 + timedelta(days=10)
            assert await due_projects(session, before) == [
                "prj_closed_early",
                "prj_never_referred",
            ]
            assert await due_projects(session, T0 + timedelta(days=2)) == [
                "prj_closed_early",
                "prj_never_referred",
            ]
            assert await due_projects(session, T0 + timedelta(days=2) - timedelta(seconds=1)) == [
                "prj_never_referred"
            ]
            assert await due_projects(session, before, project_id="prj_closed_late") == []
            assert await due_projects(session, T0 + timedelta(days=40)) == [
                "prj_closed_early",
                "prj_closed_late",
                "prj_never_referred",
                "prj_touched_later",
            ]
    finally:
        await db.dispose()
