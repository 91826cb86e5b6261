"""Fixtures shared by integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.directory import directory_alone


@pytest.fixture
async def directory(kafka_bootstrap: str, unique_name, tmp_path: Path) -> AsyncIterator[tuple]:  # type: ignore[no-untyped-def]
    """(client, clock, running) for the directory served alone."""
    async for served in directory_alone(kafka_bootstrap, unique_name, tmp_path):
        yield served
