"""`relais evaluation rebuild`: replay the evaluation archive into fresh projections.

Runs against the configured database (`EVALUATION_DATABASE_URL`, else the SQLite file under
`EVALUATION_VAR_DIR`); the service may keep running: readers switch to the new projections
when the rebuild swaps them in.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

console = Console()
evaluation_app = typer.Typer(
    help="Évaluation : reconstruire les indicateurs depuis l'archive des événements.",
    no_args_is_help=True,
)
PHASES = {"archive": "Lecture de l'archive", "write": "Écriture des projections"}


@evaluation_app.command("rebuild")
def rebuild_command() -> None:
    """Rejoue l'archive dans de nouvelles projections, puis les met en service d'un coup."""
    from services.evaluation.handlers.rebuild import rebuild
    from services.evaluation.models import PROJECTION_MODELS
    from services.evaluation.settings import EvaluationSettings
    from services.evaluation.territory import territory_lookup
    from services.kit.db import Database
    from services.kit.runtime import KIT_MODELS

    settings = EvaluationSettings()

    async def run() -> None:
        db = Database(settings.effective_database_url, [*KIT_MODELS, *PROJECTION_MODELS])
        await db.create_all()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        try:
            with Progress(*columns, console=console) as progress:
                tasks: dict[str, TaskID] = {}

                def report(phase: str, done: int, total: int) -> None:
                    if phase not in tasks:
                        tasks[phase] = progress.add_task(PHASES[phase], total=total or 1)
                    progress.update(tasks[phase], completed=done, total=total or 1)

                result = await rebuild(
                    db,
                    territory_lookup(),
                    now=datetime.now(UTC),
                    batch_size=settings.rebuild_batch_size,
                    progress=report,
                )
        finally:
            await db.dispose()
        console.print(
            f"[green]Reconstruit[/] : {result.events:,} événements rejoués "
            f"({result.caught_up:,} arrivés pendant la reconstruction), "
            f"{result.referrals:,} orientations, {result.rollup_rows:,} lignes agrégées, "
            f"{result.members:,} structures ; génération {result.generation} en service.".replace(
                ",", "\u202f"
            )
        )
        console.print(
            f"Durée : {result.seconds:.1f} s ({result.rate:,.0f} événements/s)".replace(
                ",", "\u202f"
            )
        )

    asyncio.run(run())
