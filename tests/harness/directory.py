"""The directory served alone on a real uvicorn server, with a ManualClock, for its tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from services.directory.main import create_app
from services.directory.settings import DirectorySettings
from services.kit.clock import ManualClock
from services.kit.embedded import free_port
from tests.harness.stack import RunningService, serve, stop

ADMIN = {"X-Admin-Key": "test-admin-key-directory"}
PASSWORD = "Solide-Mot-de-passe-2026"


async def directory_alone(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, ManualClock, RunningService]]:
    clock = ManualClock()
    port = free_port()
    settings = DirectorySettings(
        port=port,
        admin_key=ADMIN["X-Admin-Key"],
        kafka_bootstrap_servers=kafka_bootstrap,
        var_dir=tmp_path,
        consumer_group_prefix=unique_name("dir"),
        environment="test",
    )
    running = await serve("directory", create_app(settings, clock=clock), port)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            yield client, clock, running
    finally:
        await stop(running)


async def _network(client: httpx.AsyncClient, network_id: str, region: str = "32") -> None:
    r = await client.post(
        "/v1/networks", json={"id": network_id, "name": network_id, "region": region}, headers=ADMIN
    )
    assert r.status_code == 201, r.text


async def _member(
    client: httpx.AsyncClient, name: str, network: str, commune: str = "80021"
) -> tuple[str, str]:
    r = await client.post(
        "/v1/members",
        json={"name": name, "network_ids": [network], "commune": commune},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    return r.json()["member"]["id"], r.json()["api_key"]


async def _bearer(client: httpx.AsyncClient, **credentials: str) -> dict[str, str]:
    r = await client.post("/v1/token", json=credentials)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


OFFER = {
    "title": "Accompagnement à la création",
    "kind": "accompagnement",
    "stages": ["creation"],
    "territories": [{"level": "departement", "code": "80"}],
}
