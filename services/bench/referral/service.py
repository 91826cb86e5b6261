"""The referral service under test: its settings, seeded members, the bench's own tokens,
the commit marks, and the outbox it drains."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, func, select

from services.kit.auth import JwtVerifier
from services.kit.db import STAGED_ROWS, Database, table_of
from services.kit.outbox import OutboxRecord
from services.kit.runtime import KIT_MODELS, ServiceRuntime
from services.referral.main import create_app
from services.referral.models import MODELS, KnownMember, Referral
from services.referral.settings import ReferralSettings

CLIENTS = 16
NETWORK = "bench-network"


# --- tokens ---------------------------------------------------------------------------------


@dataclass
class TokenMint:
    """An ES256 key of the bench's own, its JWKS, and tokens shaped like the directory's."""

    issuer: str
    audience: str
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="ES256")
        return {"keys": [public]}

    def token(self, member_id: str, ttl: timedelta = timedelta(hours=1)) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": f"member:{member_id}",
            "member": member_id,
            "networks": [NETWORK],
            "roles": ["member_tool"],
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})


# --- the service under test -------------------------------------------------------------------


@dataclass
class Members:
    senders: list[str]
    receivers: list[str]


async def seed_members(settings: ReferralSettings, senders: int, receivers: int) -> Members:
    """Rows the `directory.events` consumer would have written, before the service starts."""
    db = Database(settings.effective_database_url, [*KIT_MODELS, *MODELS])
    await db.create_all()
    members = Members(
        senders=[f"mbr_bench_s{i:02d}" for i in range(senders)],
        receivers=[f"mbr_bench_r{i:02d}" for i in range(receivers)],
    )
    try:
        async with db.transaction() as session:
            for i, member_id in enumerate(members.senders + members.receivers):
                session.add(
                    KnownMember(
                        id=member_id,
                        name=f"Structure de banc n° {i}",
                        network_ids=[NETWORK],
                        schemes=["starter_ess"] if member_id in members.receivers else [],
                        commune="80021",
                    )
                )
    finally:
        await db.dispose()
    return members


REFERRAL_TABLE = table_of(Referral)


@dataclass(eq=False)  # hashable: SQLAlchemy keeps listeners in dicts
class CommitMarks:
    """perf_counter() just before the commit of the transaction that created each referral."""

    db: Database
    at: dict[str, float] = field(default_factory=dict)

    def __call__(self, session: Session) -> None:
        if session.info.get("relais_db") is not self.db:
            return
        now = time.perf_counter()
        # A new referral is a staged Core row (kit.db.stage_object) until this commit.
        for table, row, _ in session.info.get(STAGED_ROWS, ()):
            if table is REFERRAL_TABLE:
                self.at.setdefault(row["id"], now)

    @asynccontextmanager
    async def installed(self) -> AsyncIterator[CommitMarks]:
        # First in line: the kit's own before_commit hook inserts (and forgets) staged rows.
        event.listen(Session, "before_commit", self, insert=True)
        try:
            yield self
        finally:
            event.remove(Session, "before_commit", self)


@asynccontextmanager
async def referral_service(
    bootstrap: str, var: Path, run_id: str
) -> AsyncIterator[tuple[FastAPI, ServiceRuntime, TokenMint, Members]]:
    settings = ReferralSettings(
        kafka_bootstrap_servers=bootstrap,
        var_dir=var,
        consumer_group_prefix=f"bench-{run_id}",
        environment="test",
        jwks_url=None,
        log_level="WARNING",
    )
    members = await seed_members(settings, senders=CLIENTS, receivers=32)
    app = create_app(settings)
    runtime: ServiceRuntime = app.state.runtime
    mint = TokenMint(settings.jwt_issuer, settings.jwt_audience)
    app.state.verifier = JwtVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks=mint.jwks(),
        clock=runtime.clock,
    )
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + 60
        while not runtime.kafka_connected:
            if time.monotonic() > deadline:
                raise TimeoutError("the referral service did not connect to Kafka")
            await asyncio.sleep(0.05)
        yield app, runtime, mint, members


async def unpublished(db: Database) -> int:
    async with db.session() as session:
        query = (
            select(func.count())
            .select_from(OutboxRecord)
            .where(col(OutboxRecord.published_at).is_(None))
        )
        return int((await session.exec(query)).one())


async def _drain(db: Database, timeout: float = 60) -> float:
    started = time.perf_counter()
    while await unpublished(db):
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the outbox relay did not drain")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started
