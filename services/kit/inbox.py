"""Idempotent inbox: processed event ids, written in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.db import UtcDateTime, stage_insert, table_of


class InboxRecord(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=200)
    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=200)
    processed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


async def already_processed(session: AsyncSession, consumer: str, event_id: str) -> bool:
    found = await session.exec(
        select(InboxRecord.event_id).where(
            InboxRecord.consumer == consumer, InboxRecord.event_id == event_id
        )
    )
    return found.first() is not None


async def processed_among(
    session: AsyncSession, consumer: str, event_ids: Collection[str]
) -> set[str]:
    """Which of `event_ids` this consumer already processed: one query for a whole batch."""
    if not event_ids:
        return set()
    found = await session.exec(
        select(InboxRecord.event_id).where(
            InboxRecord.consumer == consumer, col(InboxRecord.event_id).in_(list(event_ids))
        )
    )
    return set(found.all())


def record_processed(
    session: AsyncSession, consumer: str, event_id: str, event_type: str, when: datetime
) -> None:
    """Staged with the effect (a Core row: no ORM object on this per-event path); a
    concurrent duplicate fails the commit on the primary key."""
    stage_insert(
        session,
        INBOX_TABLE,
        {
            "consumer": consumer,
            "event_id": event_id,
            "event_type": event_type,
            "processed_at": when,
        },
    )


INBOX_TABLE = table_of(InboxRecord)
