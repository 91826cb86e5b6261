"""The bench's downstream consumer, in its own process as a consuming service would be.

A kit `EventConsumer` on `referral.events` (own group, own SQLite inbox) whose handler prints
`<referral id> <perf_counter>` for each `referral.sent` it handles. `perf_counter` is
CLOCK_MONOTONIC on Linux, one clock for every process of the machine, so the bench compares
these times with the commit times it noted in the service's process.

Run by the bench: `python -m services.bench.referral.consumer_process BOOTSTRAP VAR RUN_ID`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralSent
from services.kit.clock import SystemClock
from services.kit.consumer import EventConsumer, HandlerContext, Subscription
from services.kit.db import Database
from services.kit.loop import run as run_loop
from services.kit.messaging import EventPublisher, make_broker
from services.kit.runtime import KIT_MODELS
from services.kit.settings import ServiceSettings

READY = "ready"


async def consume(bootstrap: str, var: Path, run_id: str) -> None:
    settings = ServiceSettings(
        service_name="bench",
        kafka_bootstrap_servers=bootstrap,
        var_dir=var,
        consumer_group_prefix=f"bench-{run_id}",
        log_level="WARNING",
    )
    out = sys.stdout

    async def on_sent(evt: ReferralSent, _ctx: HandlerContext) -> None:
        out.write(f"{evt.referral_id} {time.perf_counter()!r}\n")
        out.flush()

    publisher = EventPublisher(bootstrap, "bench-latency")
    broker = make_broker(settings)
    db = Database(f"sqlite+aiosqlite:///{var / 'consumer.db'}", KIT_MODELS)
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
    out.write(f"{READY}\n")
    out.flush()
    try:
        await asyncio.Event().wait()  # until the bench terminates the process
    finally:
        await broker.stop()
        await publisher.stop()
        await db.dispose()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    bootstrap, var, run_id = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    try:
        run_loop(consume(bootstrap, var, run_id))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
