"""The run: the three measurements in order, their report against the floors, and the
optional profiler of phase (a)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from services.bench.common import Report, percentile
from services.bench.kit import raw_produce_rate, raw_round_trip
from services.bench.referral.phases import (
    LatencyConsumer,
    Load,
    creations,
    creations_over_http,
    paced,
    served,
    wait_for,
)
from services.bench.referral.service import (
    CLIENTS,
    CommitMarks,
    _drain,
    referral_service,
    unpublished,
)
from services.kit.messaging import all_topic_names, ensure_topics

RATE = 100.0
FLOOR_CREATIONS = 250.0
FLOOR_P99_MS = 50.0


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
WARM_UP = 100  # referrals before each measured part: pools, caches, first compiles


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
                await creations(load, WARM_UP, CLIENTS)  # warm-up of phase (b)'s in-process path
                marks = CommitMarks(runtime.db)
                async with marks.installed():
                    # (a) creations per second, 16 clients
                    async with served(app) as url:
                        phase_a = await creations_over_http(
                            url, load, size.creations, CLIENTS, WARM_UP, profile
                        )
                    rate, post_ms, created = phase_a.rate, phase_a.post_ms, phase_a.ids
                    cpu_ms = phase_a.service_cpu_ms
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
    report.add("service CPU per creation", cpu_ms, None, "ms", False)
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
        f"(a) {len(created)} POST /v1/referrals by {CLIENTS} aiohttp clients in their own "
        f"process over the service's HTTP socket (uvicorn) ({len(members.senders)} senders x "
        f"{size.projects_per_sender} projects with consent, {len(members.receivers)} "
        f"receivers), after a {WARM_UP}-referral warm-up; outbox rows unpublished at the end: "
        f"{backlog}, relayed {drained:.2f} s later. Service CPU per creation: the service "
        "process's CPU time (HTTP, handlers, relay, timers) / referrals; the clients' process "
        f"spent {phase_a.client_cpu_ms:.2f} ms per creation.",
        f"(b) commit = a before_commit hook on the service's session; handler = a kit "
        f"EventConsumer on {REFERRAL_TOPIC} (own group, own SQLite inbox) in a child process, "
        "as a consuming service would be; it "
        f"first read phase (a)'s {expected} events in {catch_up:.1f} s. Open loop: "
        f"{len(busy.from_commit)} referrals asked at {RATE:.0f}/s, kept {busy.achieved:.0f}/s; "
        f"{len(calm.from_commit)} at {CALM_RATE:.0f}/s, kept {calm.achieved:.0f}/s.",
        f"(c) same broker, same run: {size.raw} records produced (raw rate), "
        f"{size.raw_round_trips} produce->consume round trips at {RATE:.0f}/s.",
        "HTTP for (b): httpx.ASGITransport into the same app (no socket). The service's event "
        "loop is uvloop, as under `relais serve`; SQLite in a temporary directory; logging at "
        "WARNING.",
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
