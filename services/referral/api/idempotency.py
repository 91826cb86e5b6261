"""`Idempotency-Key` on POSTs: the same key and body replays the first answer for 24 hours;
the same key with another body is a 422.

The key is remembered in the same transaction as the change it guards (`once`), so a
request either happened with its key stored or did not happen at all; a concurrent twin
with the same key loses on the unique constraint and gets the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

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

T = TypeVar("T")


@dataclass
class Idempotency:
    key: str | None
    principal: str
    request_hash: str
    replay: JSONResponse | None = None
    stored: Any = None


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
        guard.stored = found.body
        headers = {"idempotent-replayed": "true"}
        if isinstance(found.body, dict) and "version" in found.body:
            headers["etag"] = f'"{found.body["version"]}"'
        guard.replay = JSONResponse(found.body, status_code=found.status_code, headers=headers)
    return guard


def stage(
    session: AsyncSession, guard: Idempotency, status_code: int, body: Any, clock: Clock, hours: int
) -> None:
    """Remember the key in the caller's transaction (committed with the change it guards)."""
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


async def remember(
    session: AsyncSession, guard: Idempotency, status_code: int, body: Any, clock: Clock, hours: int
) -> None:
    if guard.key is None:
        return
    stage(session, guard, status_code, body, clock, hours)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent twin stored it first: its answer stands
        await session.rollback()


async def once(
    request: Request,
    session: AsyncSession,
    who: Principal,
    clock: Clock,
    hours: int,
    *,
    status_code: int,
    change: Callable[[], Awaitable[T]],
    keep: Callable[[T], Any],
    answer: Callable[[T], Awaitable[Any]],
    replay: Callable[[Any], Awaitable[Any]] | None = None,
) -> Any:
    """Run `change` (which must not commit) at most once per Idempotency-Key.

    `keep` gives what is stored for a replay (never personal data in clear: an id will do,
    and `replay` turns it back into an answer); `answer` renders the response after commit.
    """
    guard = await begin(request, session, who, clock)
    if guard.replay is None:
        done = await change()
        if guard.key is not None:  # `keep` renders an answer: only when there is a key
            stage(session, guard, status_code, keep(done), clock, hours)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            if guard.key is None:
                raise
            guard = await begin(request, session, who, clock)  # a twin won: its answer stands
            if guard.replay is None:
                raise
        else:
            return await answer(done)
    if replay is None:
        return guard.replay
    replayed = guard.replay
    assert replayed is not None
    return JSONResponse(
        as_json(await replay(guard.stored)),
        status_code=replayed.status_code,
        headers={"idempotent-replayed": "true"},
    )


def as_json(body: Any) -> Any:
    return json.loads(json.dumps(jsonable_encoder(body)))
