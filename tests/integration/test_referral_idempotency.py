"""`Idempotency-Key`: the key is stored with the change it guards, on SQLite and PostgreSQL.

The HTTP behaviour is in test_referral_flow; here the guard itself, against a real database:
replay, another body, a failed change that leaves the key free, expiry after 24 hours, and
(on PostgreSQL, where two writers really overlap) twins racing with the same key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.kit.auth import Principal
from services.kit.clock import ManualClock
from services.kit.db import Database
from services.kit.errors import ApiError
from services.referral.api import idempotency
from services.referral.models import Consent, IdempotencyRecord

WHO = Principal("member:mbr_a", "mbr_a", ("tremplin",), ("member_tool",))
OTHER = Principal("member:mbr_b", "mbr_b", ("tremplin",), ("member_tool",))


def request(body: dict[str, Any], key: str | None) -> Request:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json")]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/projects/prj_1/consents",
        "headers": headers,
        "query_string": b"",
        "scheme": "http",
        "server": ("test", 80),
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    return Request(scope, receive)


def consent_change(session: AsyncSession, version: str) -> Callable[[], Awaitable[Consent]]:
    async def change() -> Consent:
        consent = Consent(
            project_id="prj_1",
            text_version=version,
            scopes=["partage_structure_destinataire"],
            collected_by="test",
            collected_at=CLOCK.now(),
        )
        session.add(consent)
        return consent

    return change


async def shown(consent: Consent) -> dict[str, str]:
    return {"id": consent.id, "text_version": consent.text_version}


CLOCK = ManualClock()


async def run(
    db: Database, who: Principal, body: dict[str, Any], key: str | None, version: str = "v1"
) -> Any:
    async with db.session() as session:
        return await idempotency.once(
            request(body, key),
            session,
            who,
            CLOCK,
            24,
            status_code=201,
            change=consent_change(session, version),
            keep=lambda c: {"id": c.id, "text_version": c.text_version},
            answer=shown,
        )


async def consents(db: Database) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Consent))).one())


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, [Consent, IdempotencyRecord])
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


async def test_the_same_key_replays_and_another_body_is_refused(db: Database) -> None:
    first = await run(db, WHO, {"a": 1}, "k1")
    assert isinstance(first, dict)
    again = await run(db, WHO, {"a": 1}, "k1")
    assert isinstance(again, JSONResponse) and again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert json.loads(bytes(again.body)) == first
    with pytest.raises(ApiError) as other_body:
        await run(db, WHO, {"a": 2}, "k1")
    assert other_body.value.status == 422 and other_body.value.code == "idempotency.mismatch"
    assert isinstance(await run(db, OTHER, {"a": 1}, "k1"), dict)  # keys are per caller
    assert isinstance(await run(db, WHO, {"a": 1}, None), dict)  # no key: no guard
    assert await consents(db) == 3


async def test_a_failed_change_leaves_the_key_free_and_keys_expire(db: Database) -> None:
    async def failing() -> Consent:
        raise ApiError(409, "conflict", reason="test")

    async with db.session() as session:
        with pytest.raises(ApiError):
            await idempotency.once(
                request({"b": 1}, "k2"),
                session,
                WHO,
                CLOCK,
                24,
                status_code=201,
                change=failing,
                keep=lambda c: {},
                answer=shown,
            )
    assert isinstance(await run(db, WHO, {"b": 1}, "k2"), dict)  # the retry does run
    assert isinstance(await run(db, WHO, {"b": 1}, "k2"), JSONResponse)
    CLOCK.advance(timedelta(hours=24, minutes=1))
    assert isinstance(await run(db, WHO, {"b": 1}, "k2"), dict)  # forgotten after 24 hours
    assert await consents(db) == 2


async def test_racing_twins_act_once(fresh_postgres_url: str) -> None:
    """Twin B checks the key, then twin A runs to its commit, then B commits: B loses on the
    unique key and answers with A's result, and B's change is rolled back."""
    db = Database(fresh_postgres_url, [Consent, IdempotencyRecord])
    await db.create_all()
    try:
        answers: dict[str, Any] = {}
        async with db.session() as session_b:
            change_b = consent_change(session_b, "v-b")

            async def b_after_a() -> Consent:
                answers["a"] = await run(db, WHO, {"c": 1}, "k3", version="v-a")
                return await change_b()

            answers["b"] = await idempotency.once(
                request({"c": 1}, "k3"),
                session_b,
                WHO,
                CLOCK,
                24,
                status_code=201,
                change=b_after_a,
                keep=lambda c: {"id": c.id, "text_version": c.text_version},
                answer=shown,
            )
        assert isinstance(answers["a"], dict) and answers["a"]["text_version"] == "v-a"
        assert isinstance(answers["b"], JSONResponse)
        assert answers["b"].headers["idempotent-replayed"] == "true"
        assert json.loads(bytes(answers["b"].body)) == answers["a"]
        assert await consents(db) == 1
    finally:
        await db.dispose()
