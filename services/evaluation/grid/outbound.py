"""The grid slice's HTTP calls to the other services: the directory's match API (offers for
the self-diagnosis' next steps) and the referral service's public self-referral (the porteur's
contact hand-off). One httpx client, opened at start and closed at stop; URLs read from the
settings at call time."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from services.evaluation.settings import EvaluationSettings

log = logging.getLogger("relais.evaluation")


class Outbound:
    def __init__(self, settings: EvaluationSettings) -> None:
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.settings.outbound_timeout_seconds)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # used before start (a test calling a handler directly)
            self._client = httpx.AsyncClient(timeout=self.settings.outbound_timeout_seconds)
        return self._client

    async def match(
        self, *, commune: str, stage: str, kind: str, themes: list[str], lang: str, limit: int
    ) -> list[dict[str, Any]] | None:
        """The directory's best offers for one step, or None when it cannot answer."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("commune", commune),
            ("stage", stage),
            ("kind", kind),
            ("limit", limit),
            ("lang", lang),
        ]
        params += [("themes", theme) for theme in themes]
        url = self.settings.effective_directory_url + "/v1/match"
        try:
            response = await self.client.get(url, params=params)
        except httpx.HTTPError as exc:
            log.warning("directory match unreachable: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            log.warning("directory match answered %s", response.status_code)
            return None
        results: list[dict[str, Any]] = response.json().get("results", [])
        return results

    async def self_refer(
        self, body: dict[str, Any], *, client_address: str | None, lang: str
    ) -> httpx.Response:
        """Forward a contact request; raises httpx.HTTPError when the service is unreachable."""
        headers = {"Accept-Language": lang}
        if client_address:
            # The referral door rate-limits per client address: pass the porteur's along.
            headers["X-Forwarded-For"] = client_address
        url = self.settings.referral_url.rstrip("/") + "/v1/public/self-referrals"
        return await self.client.post(url, json=body, headers=headers)
