"""kit.db staged rows (Core inserts at flush or commit) on SQLite and PostgreSQL: `if_absent`
skips a row whose key exists; without it the duplicate fails the commit."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, select

from services.kit.db import Database, stage_insert, table_of


class StagedThing(SQLModel, table=True):
    __tablename__ = "test_staged_thing"

    id: str = Field(primary_key=True, max_length=20)
    label: str = Field(max_length=20)


async def test_if_absent_skips_an_existing_key_and_plain_inserts_refuse_it(
    database_url: str,
) -> None:
    db = Database(database_url, [StagedThing])
    await db.create_all()
    table = table_of(StagedThing)
    try:
        async with db.transaction() as session:
            stage_insert(session, table, {"id": "a", "label": "first"})
        async with db.transaction() as session:
            stage_insert(session, table, {"id": "a", "label": "again"}, if_absent=True)
            stage_insert(session, table, {"id": "b", "label": "new"}, if_absent=True)
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                stage_insert(session, table, {"id": "b", "label": "twice"})
        async with db.session() as session:
            rows = (await session.exec(select(StagedThing).order_by(StagedThing.id))).all()
        assert [(r.id, r.label) for r in rows] == [("a", "first"), ("b", "new")]
    finally:
        await db.dispose()
