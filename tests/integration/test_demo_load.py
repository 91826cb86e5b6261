"""The demo loader against a real directory: everything goes in through the public API, the
first accounts log in at once, the others once activated (by invitation or reset link)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.cli import demo
from services.directory.demo_data import TREMPLIN, generate
from services.directory.main import create_app
from services.directory.settings import DirectorySettings
from services.kit.clock import ManualClock
from services.kit.embedded import free_port
from tests.harness.stack import serve, stop

ADMIN_KEY = "test-admin-key-demo-loader"


@pytest.fixture
async def directory_url(
    kafka_bootstrap: str,
    unique_name,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> AsyncIterator[str]:
    """The directory in development mode (reset links come back in the answer)."""
    port = free_port()
    settings = DirectorySettings(
        port=port,
        admin_key=ADMIN_KEY,
        kafka_bootstrap_servers=kafka_bootstrap,
        var_dir=tmp_path,
        consumer_group_prefix=unique_name("dir"),
        environment="development",
    )
    running = await serve("directory", create_app(settings, clock=ManualClock()), port)
    try:
        yield running.url
    finally:
        await stop(running)


async def _login(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/v1/token", json={"email": email, "password": password})
    return response.status_code


async def test_the_demo_loads_through_the_api(directory_url: str, tmp_path: Path) -> None:
    data = generate()
    loaded = await demo.load_demo(directory_url, ADMIN_KEY, data)

    async with httpx.AsyncClient(base_url=directory_url, timeout=30) as client:
        networks = (await client.get("/v1/networks")).json()
        assert {n["id"] for n in networks} == {n.id for n in data.networks}
        members = (await client.get("/v1/members", params={"network": TREMPLIN})).json()
        assert len(members) == len(data.members_of(TREMPLIN)) >= 40
        offers = (await client.get("/v1/offers", params={"limit": 500})).json()
        assert len(offers) == len(data.offers) >= 150
        users = (await client.get("/v1/users", headers={"X-Admin-Key": ADMIN_KEY})).json()
        assert len(users) == len(data.accounts)

        # Member tools: every API key gives a token.
        first, second = loaded.data.members[:2]
        token = await client.post("/v1/token", json={"api_key": loaded.api_keys[first.slug]})
        assert token.status_code == 200
        # People: operators, the funder and the first two members' accounts log in at once.
        for email in ("operateur.tremplin", "financeur.region32", f"conseil.{second.slug}"):
            assert await _login(client, f"{email}@demo.relais.test", data.password) == 200
        assert loaded.active and loaded.pending
        assert not loaded.active & {p.account.email for p in loaded.pending}
        waiting = loaded.pending[0].account.email
        assert await _login(client, waiting, data.password) == 401

        # The others: with their invitation link, or a reset link (a kept var/ that lost them).
        later = [loaded.pending[0], demo.PendingAccount(loaded.pending[1].account, None)]
        done = await demo.activate_accounts(directory_url, later, data.password)
        assert done == {p.account.email for p in later}
        for pending in later:
            assert await _login(client, pending.account.email, data.password) == 200

    document = demo.credentials_document(
        loaded=loaded,
        secrets_=demo.DemoSecrets.generate(),
        urls={"directory": directory_url},
        receiver_url="http://127.0.0.1:1/webhooks",
        inbox=tmp_path / "inbox",
        kafka_bootstrap="127.0.0.1:9092",
    )
    assert document["members"][0]["id"] == loaded.member_ids[first.slug]
    assert TREMPLIN in document["members"][1]["network_ids"]
    assert {a["email"] for a in document["accounts"] if a["active"]} == loaded.active
    assert len(document["deliberate_gaps"]) == len(data.gaps)
    assert document["accounts_ready"] is False
    resumed = demo.pending_from_credentials(data, document)
    assert {p.account.email for p in resumed} == {p.account.email for p in loaded.pending}


async def test_coverage_of_region_32_lists_the_demo_gaps(directory_url: str) -> None:
    from services.directory.demo_data import GAPS

    await demo.load_demo(directory_url, ADMIN_KEY, generate())
    async with httpx.AsyncClient(base_url=directory_url, timeout=30) as client:
        coverage = await client.get("/v1/coverage", params={"region": "32", "by": "departement"})
        assert coverage.status_code == 200, coverage.text
        body = coverage.json()
        gaps = {
            (g["territory"]["code"], g["stage"]["code"], g["kind"]["code"]) for g in body["gaps"]
        }
        for gap in GAPS:
            assert (gap.departement, gap.stage, gap.kind) in gaps, gap
        amiens = await client.get(
            "/v1/match", params={"commune": "80021", "stage": "creation", "project": "collective"}
        )
        results = amiens.json()["results"]
        assert results and all(r["reasons"]["territory"]["level"] for r in results)
