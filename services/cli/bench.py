"""`relais bench <part>`: each part measures its baseline in the same run (see services.bench)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer

from services.bench import directory, kit
from services.kit.embedded import EmbeddedBroker, free_port
from services.kit.loop import run as run_loop

bench_app = typer.Typer(
    help="Mesures de performance, chacune avec sa référence mesurée dans le même run.",
    no_args_is_help=True,
)

QuickOpt = Annotated[bool, typer.Option("--quick", help="version courte (moins d'une minute)")]


@contextlib.asynccontextmanager
async def broker_for_bench() -> AsyncIterator[str]:
    """The cluster named by KAFKA_BOOTSTRAP_SERVERS, else a private embedded broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with tempfile.TemporaryDirectory(prefix="relais-bench-broker-") as tmp:
        broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log")
        await broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()


@bench_app.command("kit")
def bench_kit(quick: QuickOpt = False) -> None:
    """Outbox relay throughput and commit-to-consumer latency, beside raw aiokafka."""

    async def run() -> None:
        async with broker_for_bench() as bootstrap:
            report = await kit.run(bootstrap, quick=quick)
        report.print()

    run_loop(run())


@bench_app.command("directory")
def bench_directory(quick: QuickOpt = False) -> None:
    """Match latency on a synthetic national directory, beside one raw SQL query."""

    async def run() -> None:
        report = await directory.run(quick=quick)
        report.print()

    run_loop(run())


@bench_app.command("referral")
def bench_referral(
    quick: QuickOpt = False,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="profil pyinstrument (HTML) de la phase de créations ; "
            "pyinstrument à installer dans le venv (pas une dépendance du projet)",
        ),
    ] = None,
) -> None:
    """Referral creations/s (16 clients), commit-to-consumer latency at 100/s, beside raw Kafka."""
    # Imported here: the whole referral service comes with it, for this command only.
    from services.bench import referral

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connections at boot
    profiler = referral.pyinstrument_profile(profile) if profile else None

    async def run() -> None:
        async with broker_for_bench() as bootstrap:
            report = await referral.run(bootstrap, quick=quick, profile=profiler)
        report.print()
        if profile:
            print(f"profil : {profile}")

    run_loop(run())


@bench_app.command("evaluation")
def bench_evaluation(quick: QuickOpt = False) -> None:
    """Rebuild throughput beside raw aiokafka reads, and GET /v1/indicators latency."""
    from services.bench import evaluation  # the evaluation service comes with it

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def run() -> None:
        async with broker_for_bench() as bootstrap:
            report = await evaluation.run(bootstrap, quick=quick)
        report.print()

    run_loop(run())


@bench_app.command("notify")
def bench_notify(
    quick: QuickOpt = False,
    one_process: Annotated[
        bool,
        typer.Option(
            "--one-process",
            help="les deux parties de notify dans un seul processus (par défaut : people à part)",
        ),
    ] = False,
) -> None:
    """Webhook deliveries/s and event-to-delivery latency at 100/s, beside bare signed POSTs."""
    # Imported here: the whole notify service comes with it, for this command only.
    from services.bench import notify

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refused connections at boot

    async def run() -> None:
        async with broker_for_bench() as bootstrap:
            report = await notify.run(bootstrap, quick=quick, one_process=one_process)
        report.print()

    run_loop(run())
