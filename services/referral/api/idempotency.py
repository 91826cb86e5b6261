"""`Idempotency-Key` on POSTs: the same key and body replays the first answer for 24 hours;
the same key with another body is a 422."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError
from services.referral.models import IdempotencyRecord


@dataclass
class Idempotency:
    key: str | None
    principal: str
    request_hash: str
    replay: JSONResponse | None = None


async def begin(
    request: Request, session: AsyncSession, who: Principal, clock: Clock
) -> Idempotency:
    key = request.headers.get("idempotency-key")
    digest = hashlib.sha256(
        request.method.encode() + request.url.path.encode() + await request.body()
    ).hexdigest()
    guard = Idempotency(key, who.subject, digest)
    if key is None:
        return guard
    await session.exec(
        delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) < clock.now())
    )  # type: ignore[call-overload]
    found = (
        await session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == who.subject, IdempotencyRecord.key == key
            )
        )
    ).first()
    if found is not None:
        if found.request_hash != digest:
            raise ApiError(422, "idempotency.mismatch")
        guard.replay = JSONResponse(
            found.body, status_code=found.status_code, headers={"idempotent-replayed": "true"}
        )
    return guard


async def remember(
    session: AsyncSession, guard: Idempotency, status_code: int, body: Any, clock: Clock, hours: int
) -> None:
    if guard.key is None:
        return
    session.add(
        IdempotencyRecord(
            principal=guard.principal,
            key=guard.key,
            request_hash=guard.request_hash,
            status_code=status_code,
            body=jsonable_encoder(body),
            expires_at=clock.now() + timedelta(hours=hours),
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # a concurrent twin stored it first: its answer stands
        await session.rollback()


def as_json(body: Any) -> Any:
    return json.loads(json.dumps(jsonable_encoder(body)))
