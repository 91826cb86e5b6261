"""Phase (a)'s clients, in a process of their own, as a service's clients are: a closed loop
of concurrent aiohttp clients POSTing /v1/referrals to the service's real HTTP socket.

`python -m services.bench.referral.clients` reads its job as one JSON object on stdin, runs
a warm-up, prints `started` when the measured part begins (the parent starts counting its
own CPU there), then one JSON line with the results.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from services.kit.loop import run as run_loop


async def closed_loop(
    http: aiohttp.ClientSession, job: dict[str, Any], total: int, first: int
) -> dict[str, Any]:
    """`job["clients"]` workers share `total` POSTs; request n goes from sender n % clients
    to receiver n % receivers, about that sender's project n % projects."""
    next_n, latencies, ids = first, [], []
    errors: dict[str, int] = {}
    senders, receivers = job["senders"], job["receivers"]

    async def worker(sender: int) -> None:
        nonlocal next_n
        while next_n < first + total:
            n, next_n = next_n, next_n + 1
            projects = senders[sender]["projects"]
            body = {
                "project_id": projects[n % len(projects)],
                "receiver_member_id": receivers[n % len(receivers)],
            }
            started = time.perf_counter()
            async with http.post(
                "/v1/referrals", json=body, headers=senders[sender]["headers"]
            ) as response:
                answer = await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status == 201:
                ids.append(json.loads(answer)["id"])
            else:
                errors[str(response.status)] = errors.get(str(response.status), 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i % len(senders)) for i in range(job["clients"])))
    elapsed = time.perf_counter() - started
    return {"rate": len(ids) / elapsed, "latencies": latencies, "ids": ids, "errors": errors}


async def main(job: dict[str, Any]) -> None:
    connector = aiohttp.TCPConnector(limit=job["clients"])
    async with aiohttp.ClientSession(base_url=job["url"], connector=connector) as http:
        await closed_loop(http, job, job["warm_up"], first=job["first"])
        print("started", flush=True)
        cpu = time.process_time()
        result = await closed_loop(http, job, job["total"], first=job["first"] + job["warm_up"])
        result["client_cpu_ms"] = (time.process_time() - cpu) * 1000 / max(1, len(result["ids"]))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    run_loop(main(json.loads(sys.stdin.readline())))
