"""Addresses, fetched at send time and kept no longer than the send (never stored, never logged).

Users', members' and networks' addresses come from the directory's internal endpoint; a
porteur's from the referral service, which answers only while their consent is active (and
writes its access log). Both are called with a service credential from settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

PORTEUR = "porteur:"


class LookupError_(Exception):
    """The directory or referral service did not answer: retry later."""


@dataclass(frozen=True)
class Address:
    emails: list[str] = field(default_factory=list)
    name: str | None = None


@dataclass
class AddressBook:
    directory_url: str
    directory_key: str
    referral_url: str
    referral_key: str
    client: Callable[[], httpx.AsyncClient]

    async def lookup(self, subject: str, purpose: str) -> Address:
        if subject.startswith(PORTEUR):
            return await self._porteur(subject.removeprefix(PORTEUR), purpose)
        try:
            response = await self.client().get(
                f"{self.directory_url}/internal/v1/addresses",
                params={"subject": subject},
                headers={"X-Internal-Key": self.directory_key},
            )
        except httpx.HTTPError as exc:
            raise LookupError_(f"directory unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise LookupError_(f"directory answered {response.status_code}")
        found = response.json()["addresses"].get(subject) or {}
        return Address(emails=list(found.get("emails") or []), name=found.get("name"))

    async def _porteur(self, project_id: str, purpose: str) -> Address:
        try:
            response = await self.client().get(
                f"{self.referral_url}/internal/v1/projects/{project_id}/porteur-contact",
                params={"purpose": purpose},
                headers={"X-Internal-Key": self.referral_key},
            )
        except httpx.HTTPError as exc:
            raise LookupError_(f"referral unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return Address()  # no consent, erased, or no email: nobody to write to
        if response.status_code != 200:
            raise LookupError_(f"referral answered {response.status_code}")
        body = response.json()
        return Address(emails=[body["email"]], name=body.get("name") or None)
