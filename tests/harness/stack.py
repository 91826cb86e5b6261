"""Run the four services in this process, each on a real uvicorn server on a free port.

Used by integration tests: real HTTP, the real broker, real SQLite/PostgreSQL files; a fresh
consumer-group prefix per stack so tests never share offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from services.directory.main import create_app as directory_app
from services.directory.settings import DirectorySettings
from services.evaluation.main import create_app as evaluation_app
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.embedded import free_port
from services.kit.runtime import ServiceRuntime
from services.notify.main import create_app as notify_app
from services.notify.settings import NotifySettings
from services.referral.main import create_app as referral_app
from services.referral.settings import ReferralSettings

ADMIN_KEY = "test-admin-key"


@dataclass
class RunningService:
    name: str
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime


@dataclass
class Stack:
    services: dict[str, RunningService] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.services[name].url

    def runtime(self, name: str) -> ServiceRuntime:
        return self.services[name].runtime


async def serve(name: str, app: FastAPI, port: int) -> RunningService:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name=f"uvicorn-{name}")
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not start")
        await asyncio.sleep(0.02)
    return RunningService(name, app, server, task, f"http://127.0.0.1:{port}")


async def stop(service: RunningService) -> None:
    service.server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(service.task, timeout=20)


@contextlib.asynccontextmanager
async def running_stack(
    *,
    bootstrap: str,
    var_dir: Path,
    group_prefix: str,
    webhook_url: str | None,
    database_urls: dict[str, str] | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Stack]:
    ports = {name: free_port() for name in ("directory", "referral", "evaluation", "notify")}
    jwks = f"http://127.0.0.1:{ports['directory']}/.well-known/jwks.json"
    urls = database_urls or {}
    common: dict[str, Any] = dict(
        kafka_bootstrap_servers=bootstrap,
        var_dir=var_dir,
        consumer_group_prefix=group_prefix,
        environment="test",
    )
    builders: list[tuple[str, Callable[[], FastAPI]]] = [
        (
            "directory",
            lambda: directory_app(
                DirectorySettings(
                    port=ports["directory"],
                    admin_key=ADMIN_KEY,
                    database_url=urls.get("directory"),
                    **common,
                ),
                clock=clock,
            ),
        ),
        (
            "referral",
            lambda: referral_app(
                ReferralSettings(
                    port=ports["referral"],
                    jwks_url=jwks,
                    database_url=urls.get("referral"),
                    **common,
                ),
                clock=clock,
            ),
        ),
        (
            "evaluation",
            lambda: evaluation_app(
                EvaluationSettings(
                    port=ports["evaluation"],
                    jwks_url=jwks,
                    database_url=urls.get("evaluation"),
                    **common,
                ),
                clock=clock,
            ),
        ),
        (
            "notify",
            lambda: notify_app(
                NotifySettings(
                    port=ports["notify"],
                    jwks_url=jwks,
                    webhook_url=webhook_url,
                    database_url=urls.get("notify"),
                    **common,
                ),
                clock=clock,
            ),
        ),
    ]
    stack = Stack()
    try:
        for name, build in builders:
            stack.services[name] = await serve(name, build(), ports[name])
        await wait_until(lambda: _all_ready(stack), timeout=60, what="services ready")
        yield stack
    finally:
        for service in reversed(list(stack.services.values())):
            await stop(service)


async def _all_ready(stack: Stack) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        for service in stack.services.values():
            if (await client.get(service.url + "/readyz")).status_code != 200:
                return False
    return all(s.runtime.assigned() for s in stack.services.values())


async def wait_until(
    probe: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 30,
    what: str = "condition",
    interval: float = 0.05,
) -> Any:
    """Poll `probe` until it returns something truthy (not a business delay: an I/O wait)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def register(client: httpx.AsyncClient, stack: Stack, name: str) -> tuple[str, str]:
    """Register a member through the directory's API; return (member id, API key)."""
    network = await client.post(
        stack.url("directory") + "/v1/networks",
        json={"id": "tremplin", "name": "Tremplin (test)", "region": "32"},
        headers={"X-Admin-Key": ADMIN_KEY},
    )
    assert network.status_code in (201, 409), network.text
    response = await client.post(
        stack.url("directory") + "/v1/members",
        json={"name": name, "network_ids": ["tremplin"], "commune": "80021"},
        headers={"X-Admin-Key": ADMIN_KEY},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["member"]["id"], body["api_key"]


async def token_for(client: httpx.AsyncClient, stack: Stack, api_key: str) -> str:
    response = await client.post(stack.url("directory") + "/v1/token", json={"api_key": api_key})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


PORTEUR = {
    "name": "Camille Porteuse",
    "email": "camille.porteuse@exemple.fr",
    "phone": "0612345678",
}
CONSENT = {"text_version": "2026-01", "scopes": ["partage_structure_destinataire"]}


def project_body(
    stage: str = "creation", commune: str = "80021", **facts: object
) -> dict[str, object]:
    """A project with its porteur and the consent that lets it be shared."""
    return {
        "title": "Épicerie solidaire",
        "description": "Une épicerie coopérative en centre-bourg",
        "stage": stage,
        "commune": commune,
        "porteur": PORTEUR,
        "consent": CONSENT,
        **facts,
    }


async def orient(
    client: httpx.AsyncClient, referral_url: str, headers: dict[str, str], to: str, **facts: object
) -> httpx.Response:
    """Register a project (with consent) and refer it to `to`; return the referral answer."""
    project = await client.post(
        referral_url + "/v1/projects", json=project_body(**facts), headers=headers
    )
    assert project.status_code == 201, project.text
    return await client.post(
        referral_url + "/v1/referrals",
        json={"project_id": project.json()["id"], "receiver_member_id": to},
        headers=headers,
    )
