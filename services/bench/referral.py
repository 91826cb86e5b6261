"""`relais bench referral`: referral creations per second, and commit -> consumer latency.

The referral service as `services.referral.main.create_app` builds it (its runtime: SQLite in a
temporary directory, outbox relay, timers, its own consumers), its lifespan run by the bench,
driven through HTTP with **httpx.ASGITransport** (the whole ASGI app — middleware, routing,
validation, JWT check, JSON — but no socket: client and service share one process and one
event loop, which the figures therefore include). What differs from production, and why:

* tokens: the app's JWT verifier is replaced by one holding a JWKS the bench generated (the
  directory is not running); tokens are minted with the same claims the directory signs;
* the member copy (`referral_known_member`) is seeded by inserting rows before start-up, as
  the `directory.events` consumer would have written them;
* logging at WARNING (one INFO line per referral would go to the terminal).

Figures (issue 4, "Performance"; floors on the 2-core machine with SQLite):

(a) creations: 16 concurrent clients, each a member with its own pre-created projects (with
    consent), POST /v1/referrals as fast as answers come; floor >= 250/s.
(b) latency at a steady 100 referrals/s (open loop): from just before the POST's commit (a
    SQLAlchemy `before_commit` hook on the service's sessions) to a kit `EventConsumer`'s
    handler for `referral.sent.v1` on `referral.events` (own group, own SQLite inbox);
    floor p99 <= 50 ms. POST start -> handler is shown too.
(c) beside them, on the same broker in the same run: raw aiokafka produce rate and
    produce -> consume round trip at 100/s (`services.bench.kit`).

With KAFKA_BOOTSTRAP_SERVERS naming a cluster, the service publishes to that cluster's
`referral.events` (the contracts fix the topic); use the embedded broker for a clean run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, func, select

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralSent
from services.bench.common import Report, percentile
from services.bench.kit import raw_produce_rate, raw_round_trip
from services.kit.auth import JwtVerifier
from services.kit.clock import SystemClock
from services.kit.consumer import EventConsumer, HandlerContext, Subscription
from services.kit.db import Database
from services.kit.messaging import EventPublisher, all_topic_names, ensure_topics, make_broker
from services.kit.outbox import OutboxRecord
from services.kit.runtime import KIT_MODELS, ServiceRuntime
from services.kit.settings import ServiceSettings
from services.referral.main import create_app
from services.referral.models import MODELS, KnownMember, Referral
from services.referral.settings import ReferralSettings

CLIENTS = 16
RATE = 100.0
FLOOR_CREATIONS = 250.0
FLOOR_P99_MS = 50.0
NETWORK = "bench-network"
log = logging.getLogger("relais.bench")


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


@dataclass(eq=False)  # hashable: SQLAlchemy keeps listeners in dicts
class CommitMarks:
    """perf_counter() just before the commit of the transaction that created each referral."""

    db: Database
    at: dict[str, float] = field(default_factory=dict)

    def __call__(self, session: Session) -> None:
        if session.info.get("relais_db") is not self.db:
            return
        now = time.perf_counter()
        for obj in (*session.new, *session.identity_map.values()):
            if isinstance(obj, Referral) and obj.id not in self.at:
                self.at[obj.id] = now

    @asynccontextmanager
    async def installed(self) -> AsyncIterator[CommitMarks]:
        event.listen(Session, "before_commit", self)
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


# --- load --------------------------------------------------------------------------------------


def project_body(i: int) -> dict[str, Any]:
    return {
        "title": f"Projet de banc {i}",
        "description": "Une épicerie coopérative",
        "stage": "creation",
        "commune": "80021",
        "themes": ["alimentation"],
        "collective": True,
        "porteur": {"name": f"Porteur {i}", "email": f"porteur{i}@example.org"},
        "consent": {"text_version": "2026-01", "scopes": ["partage_structure_destinataire"]},
    }


@dataclass
class Load:
    """Who sends what: client i is sender i, with its own projects; receivers rotate."""

    client: httpx.AsyncClient
    members: Members
    headers: list[dict[str, str]]
    projects: list[list[str]] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    sent: int = 0

    async def create_projects(self, per_sender: int) -> None:
        async def one(sender: int, i: int) -> str:
            r = await self.client.post(
                "/v1/projects", json=project_body(i), headers=self.headers[sender]
            )
            if r.status_code != 201:
                raise RuntimeError(f"project: HTTP {r.status_code} {r.text[:300]}")
            return str(r.json()["id"])

        self.projects = []
        for sender in range(len(self.members.senders)):
            ids = await asyncio.gather(
                *(one(sender, sender * per_sender + i) for i in range(per_sender))
            )
            self.projects.append(list(ids))

    async def send(self, sender: int) -> tuple[str | None, float]:
        """One POST /v1/referrals; (referral id or None on error, perf_counter at start)."""
        n = self.sent
        self.sent += 1
        projects = self.projects[sender]
        body = {
            "project_id": projects[n % len(projects)],
            "receiver_member_id": self.members.receivers[n % len(self.members.receivers)],
        }
        started = time.perf_counter()
        r = await self.client.post("/v1/referrals", json=body, headers=self.headers[sender])
        if r.status_code != 201:
            self.errors[r.status_code] = self.errors.get(r.status_code, 0) + 1
            if sum(self.errors.values()) <= 3:
                log.warning("POST /v1/referrals: HTTP %s %s", r.status_code, r.text[:300])
            return None, started
        return str(r.json()["id"]), started


async def creations(load: Load, total: int, clients: int) -> tuple[float, list[float], list[str]]:
    """`clients` closed-loop workers share `total` POSTs: (rate, latencies ms, ids)."""
    remaining = total
    latencies: list[float] = []
    ids: list[str] = []

    async def worker(sender: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            referral_id, started = await load.send(sender)
            latencies.append((time.perf_counter() - started) * 1000)
            if referral_id:
                ids.append(referral_id)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i % len(load.headers)) for i in range(clients)))
    return len(ids) / (time.perf_counter() - started), latencies, ids


@dataclass
class LatencyConsumer:
    """A kit EventConsumer on referral.events noting when its handler sees each referral."""

    bootstrap: str
    var: Path
    run_id: str
    handled: dict[str, float] = field(default_factory=dict)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LatencyConsumer]:
        settings = ServiceSettings(
            service_name="bench",
            kafka_bootstrap_servers=self.bootstrap,
            var_dir=self.var,
            consumer_group_prefix=f"bench-{self.run_id}",
            log_level="WARNING",
        )

        async def on_sent(evt: ReferralSent, _ctx: HandlerContext) -> None:
            self.handled.setdefault(evt.referral_id, time.perf_counter())

        publisher = EventPublisher(self.bootstrap, "bench-latency")
        broker = make_broker(settings)
        db = Database(f"sqlite+aiosqlite:///{self.var / 'consumer.db'}", KIT_MODELS)
        await db.create_all()
        consumer = EventConsumer(
            Subscription(REFERRAL_TOPIC, "latency", {ReferralSent: on_sent}),
            db=db,
            publisher=publisher,
            clock=SystemClock(),
            settings=settings,
        )
        consumer.attach(broker)
        await publisher.start()
        await broker.start()
        try:
            yield self
        finally:
            await broker.stop()
            await publisher.stop()
            await db.dispose()


async def wait_for(probe: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.perf_counter()
    while not probe():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


@dataclass
class Paced:
    """A paced run: commit -> handler and POST start -> handler latencies (ms), the rate the
    service actually kept."""

    rate: float
    achieved: float
    from_commit: list[float]
    from_post: list[float]


async def paced(
    load: Load, n: int, rate: float, marks: CommitMarks, handled: dict[str, float]
) -> Paced:
    """Open loop: POST i starts at t0 + i/rate whatever the others do (a service slower than
    `rate` builds a queue, and the latencies show it)."""
    starts: dict[str, float] = {}
    tasks: list[asyncio.Task[None]] = []

    async def one(sender: int) -> None:
        referral_id, started = await load.send(sender)
        if referral_id:
            starts[referral_id] = started

    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i % len(load.headers))))
    await asyncio.gather(*tasks)
    achieved = len(starts) / (time.perf_counter() - t0)
    await wait_for(lambda: all(r in handled for r in starts), 120, "the consumer")
    return Paced(
        rate=rate,
        achieved=achieved,
        from_commit=[(handled[r] - marks.at[r]) * 1000 for r in starts if r in marks.at],
        from_post=[(handled[r] - s) * 1000 for r, s in starts.items()],
    )


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Sizes:
    creations: int
    paced: int  # at RATE
    calm: int  # at CALM_RATE
    raw: int
    raw_round_trips: int
    projects_per_sender: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(600, 200, 60, 2_000, 100, 4)
        return cls(5_000, 1_500, 300, 20_000, 1_000, 16)


CALM_RATE = 20.0  # a rate the service keeps on this machine: the relay's own latency


async def run(
    bootstrap: str,
    *,
    quick: bool,
    profile: Callable[[], AbstractContextManager[Any]] | None = None,
) -> Report:
    """The three measurements; `profile`, if given, wraps phase (a) (a profiler's context)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connections at boot
    size = Sizes.of(quick)
    run_id = uuid.uuid4().hex[:8]
    raw_topics = [f"bench.referral.{run_id}.{name}" for name in ("raw", "rtt")]
    await ensure_topics(bootstrap, all_topic_names(raw_topics), partitions=6)
    load_before = os.getloadavg()[0]

    # (c) first, on an idle process: the broker's own figures.
    raw_rate = await raw_produce_rate(bootstrap, raw_topics[0], size.raw)
    raw_rtt = await raw_round_trip(bootstrap, raw_topics[1], size.raw_round_trips, RATE)

    with tempfile.TemporaryDirectory(prefix="relais-bench-referral-") as tmp:
        var = Path(tmp)
        async with referral_service(bootstrap, var, run_id) as (app, runtime, mint, members):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://referral.bench", timeout=120
            ) as client:
                headers = [{"Authorization": f"Bearer {mint.token(m)}"} for m in members.senders]
                load = Load(client, members, headers)
                await load.create_projects(size.projects_per_sender)
                await creations(load, 100, CLIENTS)  # warm-up: pool, caches, first compiles
                marks = CommitMarks(runtime.db)
                async with marks.installed():
                    # (a) creations per second, 16 clients
                    cpu = time.process_time()
                    with profile() if profile is not None else contextlib.nullcontext():
                        rate, post_ms, created = await creations(load, size.creations, CLIENTS)
                    cpu_ms = (time.process_time() - cpu) * 1000 / max(1, len(created))
                    backlog = await unpublished(runtime.db)
                    drained = await _drain(runtime.db)
                    # (b) commit -> consumer handler, paced
                    consumer = LatencyConsumer(bootstrap, var, run_id)
                    async with consumer.running():
                        expected = load.sent - sum(load.errors.values())
                        catch_up = await wait_for(
                            lambda: len(consumer.handled) >= expected,
                            180,
                            "the consumer to catch up with phase (a)",
                        )
                        busy = await paced(load, size.paced, RATE, marks, consumer.handled)
                        calm = await paced(load, size.calm, CALM_RATE, marks, consumer.handled)
            errors = dict(load.errors)
    load_after = os.getloadavg()[0]

    report = Report("referral", "raw aiokafka")
    report.add(f"creations ({CLIENTS} clients)", rate, raw_rate, "/s")
    report.add("CPU per creation", cpu_ms, None, "ms", False)
    report.add(f"POST p50 ({CLIENTS} clients)", percentile(post_ms, 50), None, "ms", False)
    report.add(f"POST p99 ({CLIENTS} clients)", percentile(post_ms, 99), None, "ms", False)
    raw50, raw99 = percentile(raw_rtt, 50), percentile(raw_rtt, 99)
    p50, p99 = percentile(busy.from_commit, 50), percentile(busy.from_commit, 99)
    report.add(f"commit->handler p50 @{RATE:.0f}/s", p50, raw50, "ms", False)
    report.add(f"commit->handler p99 @{RATE:.0f}/s", p99, raw99, "ms", False)
    report.add(
        f"POST->handler p99 @{RATE:.0f}/s", percentile(busy.from_post, 99), None, "ms", False
    )
    calm99 = percentile(calm.from_commit, 99)
    report.add(
        f"commit->handler p50 @{CALM_RATE:.0f}/s",
        percentile(calm.from_commit, 50),
        raw50,
        "ms",
        False,
    )
    report.add(f"commit->handler p99 @{CALM_RATE:.0f}/s", calm99, raw99, "ms", False)
    verdict = {True: "met", False: "NOT MET"}
    creations_met = rate >= FLOOR_CREATIONS
    latency_met = p99 <= FLOOR_P99_MS and busy.achieved >= RATE * 0.95  # kept the pace too
    report.notes += [
        f"(a) {len(created)} POST /v1/referrals by {CLIENTS} clients ({len(members.senders)} "
        f"senders x {size.projects_per_sender} projects with consent, {len(members.receivers)} "
        f"receivers), after a 100-referral warm-up; outbox rows unpublished at the end: "
        f"{backlog}, relayed {drained:.2f} s later. CPU per creation: process CPU time "
        "(service + client + relay + timers) / referrals.",
        f"(b) commit = a before_commit hook on the service's session; handler = a kit "
        f"EventConsumer on {REFERRAL_TOPIC} (own group, own SQLite inbox, same process); it "
        f"first read phase (a)'s {expected} events in {catch_up:.1f} s. Open loop: "
        f"{len(busy.from_commit)} referrals asked at {RATE:.0f}/s, kept {busy.achieved:.0f}/s; "
        f"{len(calm.from_commit)} at {CALM_RATE:.0f}/s, kept {calm.achieved:.0f}/s.",
        f"(c) same broker, same run: {size.raw} records produced (raw rate), "
        f"{size.raw_round_trips} produce->consume round trips at {RATE:.0f}/s.",
        "HTTP: httpx.ASGITransport into the app whose lifespan the bench runs (no socket); "
        "SQLite in a temporary directory; logging at WARNING.",
        f"load average of the machine: {load_before:.1f} before, {load_after:.1f} after "
        f"({os.cpu_count()} CPUs; other processes share them).",
        f"floors (issue 4): creations >= {FLOOR_CREATIONS:.0f}/s {verdict[creations_met]}; "
        f"commit->handler p99 <= {FLOOR_P99_MS:.0f} ms at {RATE:.0f}/s {verdict[latency_met]}.",
    ]
    if errors:
        report.notes.append(f"errors: {errors} (HTTP status: count)")
    return report


def pyinstrument_profile(path: Path) -> Callable[[], AbstractContextManager[Any]]:
    """A context factory that profiles what it wraps with pyinstrument and writes HTML to
    `path` (pyinstrument is not a dependency: `pip install pyinstrument` into the venv)."""
    try:
        import pyinstrument
    except ImportError as exc:
        raise SystemExit(
            "--profile demande pyinstrument : .venv/bin/pip install pyinstrument"
        ) from exc

    @contextlib.contextmanager
    def profiled() -> Iterator[None]:
        profiler = pyinstrument.Profiler(interval=0.001)
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            path.write_text(profiler.output_html(), encoding="utf-8")

    return profiled


async def _drain(db: Database, timeout: float = 60) -> float:
    started = time.perf_counter()
    while await unpublished(db):
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the outbox relay did not drain")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started
