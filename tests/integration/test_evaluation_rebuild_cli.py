"""`relais evaluation rebuild` against the configured database: counts, time, the swap."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from services.bench.evaluation import synthetic_history, write_archive
from services.cli.main import app
from services.evaluation.models import PROJECTION_MODELS, ProjectionState, ReferralFactRow
from services.kit.db import Database
from services.kit.runtime import KIT_MODELS


async def _archive(url: str, n: int) -> int:
    db = Database(url, [*KIT_MODELS, *PROJECTION_MODELS])
    await db.create_all()
    history = synthetic_history(n, seed=11)
    await write_archive(db, history)
    await db.dispose()
    return len({e["data"]["referral_id"] for e in history.events if "referral_id" in e["data"]})


async def _state(url: str) -> tuple[int, int]:
    db = Database(url, PROJECTION_MODELS)
    async with db.session() as session:
        state = (await session.exec(select(ProjectionState))).one()
        facts = (await session.exec(select(ReferralFactRow))).all()
    await db.dispose()
    assert {f.generation for f in facts} == {state.generation}  # the old generation is gone
    return state.generation, len(facts)


def test_rebuild_command_replays_the_archive_and_swaps(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/evaluation.db"
    referrals = asyncio.run(_archive(url, 3_000))
    monkeypatch.setenv("EVALUATION_DATABASE_URL", url)
    runner = CliRunner()
    first = runner.invoke(app, ["evaluation", "rebuild"])
    assert first.exit_code == 0, first.output
    assert "3\u202f000 événements rejoués" in first.output
    assert asyncio.run(_state(url)) == (2, referrals)
    again = runner.invoke(app, ["evaluation", "rebuild"])
    assert again.exit_code == 0, again.output
    assert asyncio.run(_state(url)) == (3, referrals)
