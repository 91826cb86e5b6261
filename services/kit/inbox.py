"""Idempotent inbox: processed event ids, written in the same transaction as the effect."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.db import UtcDateTime


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


def record_processed(
    session: AsyncSession, consumer: str, event_id: str, event_type: str, when: datetime
) -> None:
    """Staged with the effect; a concurrent duplicate fails the commit on the primary key."""
    session.add(
        InboxRecord(consumer=consumer, event_id=event_id, event_type=event_type, processed_at=when)
    )
