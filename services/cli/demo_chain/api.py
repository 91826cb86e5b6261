"""The HTTP calls of the chain: tokens, POST with retry while the referral service's copy
of the directory lags, GET, and the Starter ESS offer found with the directory's match."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from services.cli.demo_chain.cast import DemoChainError, Structure
from services.referral.handlers.projects import present_information
from services.referral.models import ProjectCreate


class _Api:
    """The calls of the chain: one token per structure, errors in French with the answer."""

    def __init__(
        self, client: httpx.AsyncClient, directory: str, referral: str, wait_seconds: float
    ) -> None:
        self.client, self.directory, self.referral = client, directory, referral
        self.wait_seconds = wait_seconds
        self.tokens: dict[str, str] = {}

    async def login(self, who: Structure) -> None:
        r = await self.client.post(f"{self.directory}/v1/token", json={"api_key": who.api_key})
        if r.status_code != 200:
            raise _failed(f"jeton de {who.name}", r)
        self.tokens[who.id] = r.json()["access_token"]

    def auth(self, who: Structure) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who.id]}"}

    async def post(
        self, who: Structure, path: str, body: Any, what: str, *, expect: int = 200
    ) -> dict[str, Any]:
        """POST as `who`; retry while the referral service has not yet learned a member or an
        offer from directory.events (a 422 `member.unknown` / `not_found`)."""
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.2
        while True:
            r = await self.client.post(f"{self.referral}{path}", json=body, headers=self.auth(who))
            if r.status_code == expect:
                answer: dict[str, Any] = r.json()
                return answer
            code = _error_code(r)
            lagging = r.status_code == 422 and code in ("member.unknown", "not_found")
            if not lagging or time.monotonic() > deadline:
                raise _failed(what, r)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    async def get(self, who: Structure, path: str, what: str) -> dict[str, Any]:
        r = await self.client.get(f"{self.referral}{path}", headers=self.auth(who))
        if r.status_code != 200:
            raise _failed(what, r)
        answer: dict[str, Any] = r.json()
        return answer


def _error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _failed(what: str, response: httpx.Response) -> DemoChainError:
    return DemoChainError(f"{what} : HTTP {response.status_code} {response.text[:400]}")


async def find_starter_offer(
    client: httpx.AsyncClient,
    directory: str,
    body: Mapping[str, Any],
    starters: Mapping[str, Structure],
) -> tuple[Structure, dict[str, Any]] | None:
    """The first Starter ESS operator's accompaniment offer that covers the project's
    commune at its stage (as the directory ranks them) and whose required information the
    file holds; None when there is none."""
    params = {
        "commune": body["commune"],
        "stage": body["stage"],
        "kind": "accompagnement",
        "project": "collective" if body.get("collective") else "individual",
        "limit": "500",
    }
    if body.get("legal_form"):
        params["legal_form"] = body["legal_form"]
    r = await client.get(f"{directory}/v1/match", params=params)
    if r.status_code != 200:
        return None
    present = set(present_information(ProjectCreate.model_validate(body)))
    for result in r.json().get("results", []):
        member = starters.get(result.get("member", {}).get("id"))
        offer = result.get("offer", {})
        required = {item["code"] for item in offer.get("required_information", [])}
        if member is not None and required <= present:
            return member, offer
    return None
