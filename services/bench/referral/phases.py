"""The load and the measurement phases: closed-loop creations, the latency consumer, and
the open-loop paced run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from services.bench.referral.service import CommitMarks, Members
from services.kit.embedded import free_port

log = logging.getLogger("relais.bench")


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
class Creations:
    """Phase (a) over a real socket: rate, POST latencies (ms), ids, and CPU per creation of
    the service's process and of the clients' one."""

    rate: float
    post_ms: list[float]
    ids: list[str]
    service_cpu_ms: float
    client_cpu_ms: float


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The app on a local port through uvicorn (its own lifespan is the bench's), in this
    process and event loop; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), 30, "the bench's HTTP server")
        if task.done():
            task.result()  # raises what stopped it
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def creations_over_http(
    url: str,
    load: Load,
    total: int,
    clients: int,
    warm_up: int,
    profile: Callable[[], AbstractContextManager[Any]] | None = None,
) -> Creations:
    """`clients` closed-loop clients in a child process (services.bench.referral.clients);
    this process's CPU (the service, its relay and timers) is counted while they measure."""
    job = {
        "url": url,
        "clients": clients,
        "warm_up": warm_up,
        "total": total,
        "first": load.sent,
        "senders": [
            {"headers": headers, "projects": projects}
            for headers, projects in zip(load.headers, load.projects, strict=True)
        ],
        "receivers": load.members.receivers,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.bench.referral.clients",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(job).encode() + b"\n")
    await child.stdin.drain()
    started = await asyncio.wait_for(child.stdout.readline(), 120)
    if started.strip() != b"started":
        raise RuntimeError(f"the bench's clients did not start: {started[:300]!r}")
    with profile() if profile is not None else contextlib.nullcontext():
        cpu = time.process_time()
        line = await asyncio.wait_for(child.stdout.readline(), 600)
        service_cpu = time.process_time() - cpu
    await child.wait()
    result = json.loads(line)
    load.sent += warm_up + total
    for status, count in result["errors"].items():
        load.errors[int(status)] = load.errors.get(int(status), 0) + count
    return Creations(
        rate=result["rate"],
        post_ms=result["latencies"],
        ids=result["ids"],
        service_cpu_ms=service_cpu * 1000 / max(1, len(result["ids"])),
        client_cpu_ms=result["client_cpu_ms"],
    )


@dataclass
class LatencyConsumer:
    """The downstream consumer (services.bench.referral.consumer_process) in a child process,
    and when its handler saw each referral (perf_counter, one clock for all processes)."""

    bootstrap: str
    var: Path
    run_id: str
    handled: dict[str, float] = field(default_factory=dict)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LatencyConsumer]:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.bench.referral.consumer_process",
            self.bootstrap,
            str(self.var),
            self.run_id,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdout is not None
        stdout = child.stdout
        ready = asyncio.Event()

        async def read() -> None:
            async for line in stdout:
                text = line.decode().strip()
                if text == "ready":
                    ready.set()
                elif text:
                    referral_id, at = text.split()
                    self.handled.setdefault(referral_id, float(at))

        reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(ready.wait(), 60)
            yield self
        finally:
            if child.returncode is None:
                child.terminate()
            await child.wait()
            reader.cancel()


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
