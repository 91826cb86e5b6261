"""Notify tables and API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


class DeliveryBase(SQLModel):
    url: str = Field(max_length=2000)
    event_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=20)  # pending | delivered | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)


class Delivery(DeliveryBase, table=True):
    """One webhook message to one endpoint. Its id is the stable `webhook-id`."""

    __tablename__ = "notify_delivery"

    id: str = Field(primary_key=True, max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class DeliveryPublic(DeliveryBase):
    id: str
    created_at: datetime
    delivered_at: datetime | None
