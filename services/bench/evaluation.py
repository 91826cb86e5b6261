"""`relais bench evaluation`: rebuild throughput and indicator latency on a national history.

1. A synthetic history of a national network over five years (members in every région,
   realistic lifecycles: answers, declines with reasons, redirects, starts, outcomes, jobs,
   expiries; member registrations and monthly search statistics), written to the archive.
2. Rebuild throughput (events/s), beside the raw rate at which aiokafka reads the same
   events from a topic of the broker in the same run.
3. Latency of `GET /v1/indicators` over HTTP (httpx -> uvicorn -> the evaluation app) for
   several filter combinations, with a platform admin's, an operator's and a member's token.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import insert

from contracts.events import directory as d
from contracts.events import referral as r
from services.bench.common import Report, percentile
from services.directory.geo import load as load_geography
from services.evaluation.handlers.rebuild import rebuild
from services.evaluation.models import PROJECTION_MODELS, ArchivedEvent
from services.evaluation.territory import territory_lookup
from services.kit.auth import JwtVerifier
from services.kit.db import Database, table_of
from services.kit.embedded import free_port
from services.kit.messaging import ensure_topics
from services.kit.runtime import KIT_MODELS

REBUILD_FLOOR = 20_000.0  # events/s
LATENCY_FLOOR_MS = 50.0  # p95
START = datetime(2021, 1, 1, 8, 0, tzinfo=UTC)
YEARS = 5
STAGES = ("idee", "faisabilite", "creation", "developpement", "consolidation", "difficulte_rebond")
DECLINES = (
    ("hors_territoire", 3),
    ("hors_stade", 2),
    ("capacite_atteinte", 3),
    ("dossier_incomplet", 2),
    ("hors_champ_ess", 1),
    ("reoriente_ailleurs", 4),
    ("autre", 1),
)
OUTCOMES = (
    ("structure_creee", 5),
    ("activite_lancee", 3),
    ("financement_obtenu", 3),
    ("projet_abandonne", 2),
    ("reoriente", 1),
    ("autre", 1),
)
ISSUER, AUDIENCE = "relais-directory", "relais"


@dataclass
class TokenMint:
    """An ES256 key of the bench's own, its JWKS, and tokens shaped like the directory's."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="ES256")
        return {"keys": [public]}

    def verifier(self) -> JwtVerifier:
        return JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=self.jwks())

    def token(
        self,
        *,
        member: str | None = None,
        networks: tuple[str, ...] = (),
        roles: tuple[str, ...] = ("adviser",),
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user:{uuid.uuid4().hex[:8]}",
            "member": member,
            "networks": list(networks),
            "roles": list(roles),
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=2)).timestamp()),
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})


# --- the synthetic history --------------------------------------------------------------


@dataclass
class Member:
    id: str
    network: str
    commune: str


@dataclass
class History:
    members: list[Member]
    networks: list[str]
    events: list[dict[str, Any]]  # archive rows: id, type, key, time, data


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def synthetic_history(n_events: int, *, seed: int = 6) -> History:
    """About `n_events` archive rows of a national network's five years."""
    rng = random.Random(seed)
    geography = load_geography()
    by_region: dict[str, list[str]] = {}
    for commune in geography.communes.values():
        if commune.population > 2_000:
            by_region.setdefault(commune.region, []).append(commune.code)
    regions = sorted(by_region)
    networks = [f"net_{code}" for code in regions]
    n_members = max(40, min(800, n_events // 1_500))
    members = []
    for i in range(n_members):
        region = regions[i % len(regions)]
        members.append(Member(f"mbr_{i:04d}", f"net_{region}", rng.choice(by_region[region])))
    events: list[dict[str, Any]] = []
    span = timedelta(days=365 * YEARS).total_seconds()

    def add(model: type[Any], when: datetime, key: str | None, data: dict[str, Any]) -> None:
        events.append(
            {
                "id": uuid.uuid4().hex,
                "type": model.type_name,
                "key": key,
                "time": when,
                "data": data,
            }
        )

    for m in members:
        add(
            d.MemberRegistered,
            START,
            m.id,
            {
                "member_id": m.id,
                "name": f"Structure {m.id}",
                "network_ids": [m.network],
                "commune": m.commune,
                "schemes": ["starter_ess"] if int(m.id[-1]) % 3 == 0 else [],
            },
        )
    departements = sorted({geography.communes[m.commune].departement for m in members})
    for month in range(12 * YEARS):
        day = (START + timedelta(days=30.44 * month)).date()
        for dep in departements:
            searches = rng.randint(20, 200)
            add(
                d.SearchStatistics,
                START + timedelta(days=30.44 * month),
                None,
                {
                    "period_start": f"{day:%Y-%m}-01",
                    "period_end": f"{day:%Y-%m}-28",
                    "territory": {"level": "departement", "code": dep},
                    "stage": rng.choice(STAGES),
                    "searches": searches,
                    "searches_without_result": rng.randint(0, searches // 5),
                },
            )
    n_referral = 0
    while len(events) < n_events:
        project = f"prj_{len(events):08d}"
        sent_at = START + timedelta(seconds=rng.random() * span)
        sender = rng.choice(members)
        stage = rng.choice(STAGES)
        redirected_from = None
        for _hop in range(4):  # a chain: declined with redirect -> the next referral
            n_referral += 1
            ref = f"ref_{n_referral:08d}"
            local = [m for m in rng.sample(members, 6) if m.network == sender.network]
            receiver = local[0] if local and rng.random() < 0.7 else rng.choice(members)
            ids = {
                "project_id": project,
                "referral_id": ref,
                "sender_member_id": sender.id,
                "receiver_member_id": receiver.id,
            }
            add(
                r.ReferralSent,
                sent_at,
                project,
                {
                    **ids,
                    "network_id": receiver.network,
                    "stage": stage,
                    "commune": sender.commune if rng.random() < 0.5 else receiver.commune,
                    "themes": [],
                    "redirected_from": redirected_from,
                },
            )
            t = sent_at + timedelta(hours=rng.lognormvariate(3.0, 1.2))
            fate = rng.random()
            if fate < 0.06:
                add(r.ReferralExpired, sent_at + timedelta(days=30), project, ids)
                break
            if fate < 0.09:
                add(r.ReferralCancelled, t, project, ids)
                break
            if fate < 0.14:
                add(r.ReferralInfoRequested, t, project, ids)
                t += timedelta(hours=rng.lognormvariate(2.5, 1.0))
            if fate < 0.32:
                reason = _pick(rng, DECLINES)
                redirect = reason == "reoriente_ailleurs"
                nxt = f"ref_{n_referral + 1:08d}" if redirect else None
                add(r.ReferralDeclined, t, project, {**ids, "reason": reason, "redirected_to": nxt})
                if not redirect:
                    break
                sender, redirected_from, sent_at = receiver, ref, t
                continue
            add(r.ReferralAccepted, t, project, ids)
            if rng.random() < 0.1:
                break  # still waiting to start: some end up stuck
            t += timedelta(days=rng.lognormvariate(2.0, 0.8))
            add(r.ReferralStarted, t, project, ids)
            t += timedelta(days=rng.lognormvariate(4.0, 0.7))
            end = rng.random()
            if end < 0.8:
                jobs = rng.choice([0, 0, 1, 1, 2, 3, 5])
                add(
                    r.ReferralCompleted,
                    t,
                    project,
                    {**ids, "outcome": _pick(rng, OUTCOMES), "jobs_created": jobs},
                )
            elif end < 0.92:
                add(r.ReferralFailed, t, project, {**ids, "reason": "porteur_injoignable"})
            break
    return History(members, networks, events[:n_events])


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


async def write_archive(db: Database, history: History) -> float:
    table = table_of(ArchivedEvent)
    started = time.perf_counter()
    for chunk in _chunks(history.events, 10_000):
        async with db.engine.begin() as conn:
            await conn.execute(insert(table), chunk)
    return len(history.events) / (time.perf_counter() - started)


async def raw_read_rate(bootstrap: str, topic: str, history: History) -> float:
    """aiokafka reading the same events (JSON values) from a topic: records/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5, max_batch_size=256_000
    )
    await producer.start()
    try:
        pending = []
        for event in history.events:
            value = json.dumps(event["data"]).encode()
            headers = [("ce_type", event["type"].encode()), ("ce_id", event["id"].encode())]
            pending.append(
                await producer.send(
                    topic,
                    value=value,
                    key=(event["key"] or "").encode() or None,
                    headers=headers,
                )
            )
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-eval-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        read, started = 0, time.perf_counter()
        while read < len(history.events):
            batches = await consumer.getmany(timeout_ms=1_000, max_records=50_000)
            for records in batches.values():
                for record in records:
                    json.loads(record.value)  # the rebuild decodes every event too
                read += sum(len(records) for records in batches.values())
        return read / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def indicator_latencies(
    url: str, mint: TokenMint, history: History, requests: int
) -> dict[str, list[float]]:
    geography = load_geography()
    member = history.members[3]
    commune = geography.communes[member.commune]
    admin = mint.token(roles=("platform_admin",))
    operator = mint.token(roles=("network_operator",), networks=(member.network,))
    adviser = mint.token(member=member.id)
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("national", admin, {}),
        ("national by month", admin, {"group_by": "month"}),
        ("network + period", operator, {"from": "2023-01", "to": "2023-12"}),
        ("network by stage, csv", operator, {"group_by": "stage", "format": "csv"}),
        ("département", admin, {"departement": commune.departement}),
        ("EPCI", admin, {"epci": commune.epci or ""}),
        ("member (own)", adviser, {}),
        ("member by month", adviser, {"group_by": "month", "stage": "creation"}),
    ]
    out: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(requests + len(cases)):
            name, token, params = cases[i % len(cases)]
            started = time.perf_counter()
            response = await client.get(
                "/v1/indicators", params=params, headers={"Authorization": f"Bearer {token}"}
            )
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= len(cases):  # the first round warms caches and connections
                out[name].append(elapsed)
    return out


async def run(bootstrap: str, *, quick: bool, database_url: str | None = None) -> Report:
    from services.evaluation.main import create_app
    from services.evaluation.settings import EvaluationSettings

    n_events = 50_000 if quick else 1_000_000
    requests = 200 if quick else 800
    topic = f"bench.evaluation.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], partitions=6)
    started = time.perf_counter()
    history = synthetic_history(n_events)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="relais-bench-eval-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/evaluation.db"
        db = Database(url, [*KIT_MODELS, *PROJECTION_MODELS])
        await db.drop_all()
        await db.create_all()
        try:
            archive_rate = await write_archive(db, history)
            raw = await raw_read_rate(bootstrap, topic, history)
            result = await rebuild(db, territory_lookup(), now=datetime.now(UTC))
            print(
                f"rebuild: {result.rate:,.0f} events/s ({result.seconds:.1f} s); "
                f"raw aiokafka read: {raw:,.0f} records/s",
                flush=True,
            )
        finally:
            await db.dispose()
        n_archived = len(history.events)
        history.events.clear()  # a million dicts the server's GC would otherwise rescan
        gc.collect()
        mint = TokenMint()
        settings = EvaluationSettings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            var_dir=Path(tmp),
            consumer_group_prefix=f"bench-{uuid.uuid4().hex[:8]}",
            log_level="WARNING",
        )
        app = create_app(settings)
        app.state.verifier = mint.verifier()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            latencies = await indicator_latencies(
                f"http://127.0.0.1:{port}", mint, history, requests
            )
        finally:
            server.should_exit = True
            await task
    every = [x for values in latencies.values() for x in values]
    report = Report("evaluation", "raw aiokafka / floor")
    report.add("rebuild", result.rate, raw, "events/s")
    report.add("rebuild vs floor", result.rate, REBUILD_FLOOR, "events/s")
    report.add("indicators p50", percentile(every, 50), None, "ms", False)
    report.add("indicators p95", percentile(every, 95), LATENCY_FLOOR_MS, "ms", False)
    report.add("indicators p99", percentile(every, 99), None, "ms", False)
    worst = max(latencies, key=lambda name: percentile(latencies[name], 95))
    report.notes += [
        f"{n_archived:,} events ({result.referrals:,} referrals, "
        f"{len(history.members)} members, {len(history.networks)} networks, {YEARS} years) "
        f"generated in {generated:.1f} s, archived at {archive_rate:,.0f} events/s; "
        f"rebuild {result.seconds:.1f} s into {result.rollup_rows:,} rollup rows.",
        f"raw aiokafka: the same events read from a 6-partition topic (getmany + json.loads). "
        f"Floors: rebuild >= {REBUILD_FLOOR:,.0f} events/s, indicators p95 <= "
        f"{LATENCY_FLOOR_MS:.0f} ms.",
        f"{len(every)} requests over HTTP, {len(latencies)} filter combinations; slowest p95: "
        f"{worst} ({percentile(latencies[worst], 95):.1f} ms).",
        "rebuild floor: "
        + ("met" if result.rate >= REBUILD_FLOOR else "NOT met")
        + "; latency floor: "
        + ("met" if percentile(every, 95) <= LATENCY_FLOOR_MS else "NOT met"),
    ]
    return report
