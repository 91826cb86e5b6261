"""`relais bench notify`: webhook deliveries per second and event-to-delivery latency.

Notify runs as it is deployed when webhooks must not share a core with email work: its
webhooks part in this process, its people part in another (`relais serve notify` with
NOTIFY_PARTS=people, services/bench/notify_people.py), both on the real broker, each with its
SQLite file in a temporary directory; the people part consumes the same events meanwhile.
`--one-process` runs both parts in this process instead (NOTIFY_PARTS's default). A local
aiohttp receiver runs in a third process and verifies every signature with the official
`standardwebhooks` library. Baseline, same receiver, same
run: bare signed POSTs (sign + aiohttp POST, 32 in flight) from one process.

Throughput: a burst of referral events, each to FANOUT subscriptions, from the moment they
are published until the receiver has every delivery. Latency: events published at a steady
100/s, from the produce call to the receiver's arrival time.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from sqlmodel import col, func, select

from contracts.envelope import CloudEvent, to_kafka
from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralSent
from services.bench.common import Report, percentile
from services.bench.notify_people import PeopleProcess, people_process
from services.kit.db import Database
from services.kit.embedded import free_port
from services.kit.inbox import InboxRecord
from services.kit.loop import run as run_loop
from services.kit.messaging import ensure_topics
from services.kit.runtime import ServiceRuntime
from services.notify.main import create_app
from services.notify.settings import NotifySettings
from services.notify.webhooks import domain
from services.notify.webhooks.delivery import Webhooks
from services.notify.webhooks.models import Delivery, Subscription
from services.notify.webhooks.secrets import generate_secret

FANOUT = 4  # subscriptions per event in the throughput phase
BASELINE_IN_FLIGHT = 32
RATE = 100.0  # events/s in the latency phase
FLOOR_RATE, FLOOR_P99 = 500.0, 100.0


@dataclass(frozen=True)
class Sizes:
    events: int  # throughput phase (deliveries = events × FANOUT)
    latency_events: int
    baseline_posts: int


def sizes(quick: bool) -> Sizes:
    return Sizes(500, 200, 2_000) if quick else Sizes(2_500, 1_000, 10_000)


# --- the receiver, in its own process --------------------------------------------------------
def _serve_receiver(port: int, secrets: list[str], ready: Any) -> None:
    from aiohttp import web
    from standardwebhooks.webhooks import Webhook

    verifiers = [Webhook(s) for s in secrets]
    arrivals: dict[str, float] = {}
    counts = {"requests": 0, "verified": 0}

    async def hook(request: web.Request) -> web.Response:
        at = time.time()
        body = await request.read()
        counts["requests"] += 1
        headers = dict(request.headers)
        for verifier in verifiers:
            try:
                verifier.verify(body, headers, json_parse=False)
            except Exception:
                continue
            counts["verified"] += 1
            break
        arrivals.setdefault(headers.get("webhook-id") or uuid.uuid4().hex, at)
        return web.Response(status=204)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({**counts, "arrivals": arrivals})

    async def reset(_request: web.Request) -> web.Response:
        arrivals.clear()
        counts.update(requests=0, verified=0)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook/{name}", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    run_loop(main())


class Receiver:
    def __init__(self, secrets: list[str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._process = context.Process(
            target=_serve_receiver, args=(self.port, secrets, self._ready), daemon=True
        )

    def url(self, name: str) -> str:
        return f"{self.base}/hook/{name}"

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            raise TimeoutError("the bench receiver did not start")

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(10)

    async def stats(self, client: aiohttp.ClientSession) -> dict[str, Any]:
        async with client.get(self.base + "/stats") as response:
            data: dict[str, Any] = await response.json()
            return data

    async def reset(self, client: aiohttp.ClientSession) -> None:
        async with client.post(self.base + "/reset"):
            pass


# --- baseline: bare signed POSTs ---------------------------------------------------------------
async def bare_posts(receiver: Receiver, secret: str, n: int) -> float:
    from services.notify.webhooks.sender import body_of, signed_headers

    payload = {"type": ReferralSent.type_name, "id": "x", "timestamp": "t", "data": {}}
    connector = aiohttp.TCPConnector(limit=BASELINE_IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as client:
        gate = asyncio.Semaphore(BASELINE_IN_FLIGHT)

        async def one(i: int) -> None:
            async with gate:
                body = body_of({**payload, "id": f"evt_{i}"})
                headers = signed_headers(f"msg_base_{i}", (secret,), datetime.now(UTC), body)
                async with client.post(receiver.url("baseline"), data=body, headers=headers) as r:
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


async def bare_latency(receiver: Receiver, secret: str, n: int, rate: float) -> list[float]:
    """Round trip of one signed POST at a time, at the latency phase's rate."""
    from services.notify.webhooks.sender import body_of, signed_headers

    latencies = []
    async with aiohttp.ClientSession() as client:
        for i in range(n):
            started = time.perf_counter()
            body = body_of({"type": ReferralSent.type_name, "id": f"lat_{i}", "data": {}})
            headers = signed_headers(f"msg_lat_{i}", (secret,), datetime.now(UTC), body)
            async with client.post(receiver.url("baseline"), data=body, headers=headers) as r:
                await r.read()
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return latencies


# --- the notify service --------------------------------------------------------------------------
def _event(network: str, i: int, run: str) -> ReferralSent:
    return ReferralSent(
        project_id=f"prj_{run}_{i % 64}",
        referral_id=f"ref_{run}_{network}_{i}",
        sender_member_id="mbr_bench_a",
        receiver_member_id="mbr_bench_b",
        network_id=network,
        stage="creation",
        commune="80021",
    )


def _record(event: ReferralSent) -> tuple[CloudEvent, tuple[bytes | None, bytes, Any]]:
    envelope = CloudEvent.wrap(event, source="/relais/referral", time=datetime.now(UTC))
    return envelope, to_kafka(envelope)


async def _subscribe(
    runtime: ServiceRuntime, hooks: Webhooks, url: str, network: str, secret: str
) -> str:
    now = hooks.clock.now()
    sub = Subscription(
        url=url,
        event_types=[],
        network_ids=[network],
        owner_kind="platform",
        created_by="bench",
        secret_sealed="",
        created_at=now,
        updated_at=now,
    )
    sub.secret_sealed = hooks.box.seal(sub.id, secret)
    async with runtime.db.transaction() as session:
        session.add(sub)
    return sub.id


Inboxes = list[tuple[Database, list[str]]]  # a database, the consumer groups it records


def _inboxes(runtime: ServiceRuntime, people: PeopleProcess | None) -> Inboxes:
    """Every consumer group that handles referral events, and where it records them (the
    people part too: its backlog must not run into the next phase)."""
    groups = [
        c.group_id for c in runtime.consumers if c.subscription.handler_for(ReferralSent.type_name)
    ]
    inboxes = [(runtime.db, groups)]
    if people is not None:
        inboxes.append((people.db, [people.group]))
    return inboxes


async def _consumed(inboxes: Inboxes, event_ids: list[str], timeout: float = 120) -> None:
    """Until every group has handled all these events."""
    deadline = time.monotonic() + timeout
    while True:
        done = True
        for db, groups in inboxes:
            async with db.session() as session:
                count = (
                    await session.exec(
                        select(func.count())
                        .select_from(InboxRecord)
                        .where(
                            col(InboxRecord.consumer).in_(groups),
                            col(InboxRecord.event_id).in_(event_ids),
                        )
                    )
                ).one()
            done = done and count >= len(groups) * len(event_ids)
        if done:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("notify did not consume the bench's events")
        await asyncio.sleep(0.05)


async def _wait_count(
    receiver: Receiver, client: aiohttp.ClientSession, n: int, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = await receiver.stats(client)
        if stats["requests"] >= n or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


async def run(bootstrap: str, *, quick: bool, one_process: bool = False) -> Report:
    size, run_id = sizes(quick), uuid.uuid4().hex[:8]
    secret = generate_secret()
    await ensure_topics(bootstrap, [REFERRAL_TOPIC], partitions=6)
    receiver = Receiver([secret])
    receiver.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    await producer.start()
    try:
        async with aiohttp.ClientSession() as client:
            baseline_rate = await bare_posts(receiver, secret, size.baseline_posts)
            baseline_lat = await bare_latency(receiver, secret, min(size.latency_events, 200), RATE)
            await receiver.reset(client)
            with tempfile.TemporaryDirectory(prefix="relais-bench-notify-") as tmp:
                figures = await _measure(
                    bootstrap,
                    Path(tmp),
                    run_id,
                    size,
                    receiver,
                    client,
                    producer,
                    secret,
                    one_process,
                )
    finally:
        await producer.stop()
        receiver.stop()
    rate, latencies, verified, total, pending = figures
    report = Report("notify", "bare signed POSTs")
    report.add("webhook deliveries", rate, baseline_rate, "/s")
    report.add(
        "p50 event→delivery", percentile(latencies, 50), percentile(baseline_lat, 50), "ms", False
    )
    report.add(
        "p99 event→delivery", percentile(latencies, 99), percentile(baseline_lat, 99), "ms", False
    )
    report.notes.append(
        f"{size.events} events × {FANOUT} subscriptions for throughput (from publication to the "
        f"receiver's last arrival); {len(latencies)} events at {RATE:.0f}/s for latency (produce "
        f"call -> receiver arrival; baseline: one signed POST's round trip). SQLite, embedded or "
        f"given broker, receiver in another process. "
        + (
            "Both parts of notify in this process (--one-process)."
            if one_process
            else "Webhooks part in this process, people part (the same events) in another "
            "(NOTIFY_PARTS=people)."
        )
    )
    report.notes.append(
        f"signatures verified by the receiver (standardwebhooks): {verified}/{total}; "
        f"deliveries still pending in notify's database at the end: {pending}"
    )
    floors = (
        f"floors: ≥ {FLOOR_RATE:.0f} deliveries/s {'OK' if rate >= FLOOR_RATE else 'NOT MET'}; "
        f"p99 ≤ {FLOOR_P99:.0f} ms at {RATE:.0f} ev/s "
        f"{'OK' if percentile(latencies, 99) <= FLOOR_P99 else 'NOT MET'}"
    )
    report.notes.append(floors)
    return report


async def _measure(
    bootstrap: str,
    var: Path,
    run_id: str,
    size: Sizes,
    receiver: Receiver,
    client: aiohttp.ClientSession,
    producer: AIOKafkaProducer,
    secret: str,
    one_process: bool,
) -> tuple[float, list[float], int, int, int]:
    group_prefix = f"bench-{run_id}"
    settings = NotifySettings(
        kafka_bootstrap_servers=bootstrap,
        var_dir=var,
        consumer_group_prefix=group_prefix,
        environment="test",
        jwks_url=None,
        log_level="WARNING",
        webhook_allow_loopback=True,
        parts=["webhooks", "people"] if one_process else ["webhooks"],
    )
    app = create_app(settings)
    runtime: ServiceRuntime = app.state.runtime
    hooks: Webhooks = app.state.webhooks
    async with contextlib.AsyncExitStack() as stack:
        people = None
        if not one_process:
            people = await stack.enter_async_context(
                people_process(bootstrap, var / "people", group_prefix)
            )
        await stack.enter_async_context(app.router.lifespan_context(app))
        throughput_net, latency_net = f"bench-tp-{run_id}", f"bench-lat-{run_id}"
        for i in range(FANOUT):
            await _subscribe(runtime, hooks, receiver.url(f"tp{i}"), throughput_net, secret)
        latency_sub = await _subscribe(runtime, hooks, receiver.url("lat"), latency_net, secret)
        probe, record = _record(_event("bench-probe", 0, run_id))
        await producer.send_and_wait(
            REFERRAL_TOPIC, key=record[0], value=record[1], headers=record[2]
        )
        inboxes = _inboxes(runtime, people)
        await _consumed(inboxes, [probe.id])

        # Throughput: a burst, until the receiver has every delivery.
        burst = [_record(_event(throughput_net, i, run_id)) for i in range(size.events)]
        records = [record for _, record in burst]
        started = time.perf_counter()
        acks = [
            await producer.send(REFERRAL_TOPIC, key=k, value=v, headers=h) for k, v, h in records
        ]
        await asyncio.gather(*acks)
        expected = size.events * FANOUT
        stats = await _wait_count(receiver, client, expected, timeout=300)
        rate = stats["requests"] / (time.perf_counter() - started)
        await hooks.dispatcher.idle(timeout=120)
        await _consumed(inboxes, [envelope.id for envelope, _ in burst])  # people part too
        verified, total = stats["verified"], stats["requests"]

        # Latency: a steady rate, produce call -> arrival at the receiver.
        await receiver.reset(client)
        sent_at: dict[str, float] = {}
        for i in range(size.latency_events):
            envelope, (key, value, headers) = _record(_event(latency_net, i, run_id))
            tick = time.perf_counter()
            sent_at[domain.delivery_id(envelope.id, latency_sub)] = time.time()
            await producer.send(REFERRAL_TOPIC, key=key, value=value, headers=headers)
            await asyncio.sleep(max(0.0, 1 / RATE - (time.perf_counter() - tick)))
        stats = await _wait_count(receiver, client, size.latency_events, timeout=120)
        arrivals: dict[str, float] = stats["arrivals"]
        latencies = [(arrivals[k] - t) * 1000 for k, t in sent_at.items() if k in arrivals]
        verified, total = verified + stats["verified"], total + stats["requests"]
        await hooks.dispatcher.idle(timeout=120)
        async with runtime.db.session() as session:
            pending = int(
                (
                    await session.exec(
                        select(func.count())
                        .select_from(Delivery)
                        .where(col(Delivery.status) == "pending")
                    )
                ).one()
            )
    return rate, latencies, verified, total, pending
