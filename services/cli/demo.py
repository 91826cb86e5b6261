"""Demo state for `relais dev`: secrets, demo members, and var/demo-credentials.json."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

DEMO_NETWORK = "tremplin-demo"
DEMO_MEMBERS: tuple[dict[str, Any], ...] = (
    {
        "name": "Coopérative Demo Amiens",
        "network_ids": [DEMO_NETWORK],
        "commune": "80021",
        "schemes": ["starter_ess"],
    },
    {
        "name": "Incubateur Demo Lille",
        "network_ids": [DEMO_NETWORK],
        "commune": "59350",
        "schemes": ["incubateur"],
    },
)


class DemoError(RuntimeError):
    """The demo data could not be loaded (the message says which call failed and why)."""


@dataclass(frozen=True)
class DemoSecrets:
    admin_key: str
    webhook_secret: str

    @classmethod
    def generate(cls) -> DemoSecrets:
        # Standard Webhooks secrets are `whsec_` + base64 of 24 to 64 random bytes.
        webhook = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        return cls(admin_key=secrets.token_urlsafe(32), webhook_secret=webhook)

    @classmethod
    def from_credentials(cls, data: dict[str, Any]) -> DemoSecrets | None:
        try:
            return cls(admin_key=data["admin_key"], webhook_secret=data["webhook"]["secret"])
        except (KeyError, TypeError):
            return None


def read_credentials(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_credentials(path: Path, data: dict[str, Any]) -> None:
    """Owner-only file: it holds the admin key, API keys and the webhook secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
    tmp.replace(path)


def _fail(what: str, response: httpx.Response) -> DemoError:
    return DemoError(f"{what} : HTTP {response.status_code} {response.text[:300]}")


async def register_demo_members(directory_url: str, admin_key: str) -> list[dict[str, Any]]:
    """Register the demo members and check each API key really yields a token."""
    members: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=directory_url, timeout=15) as client:
        network = await client.post(
            "/v1/networks",
            json={"id": DEMO_NETWORK, "name": "Tremplin (démo)", "region": "32"},
            headers={"X-Admin-Key": admin_key},
        )
        if network.status_code not in (201, 409):
            raise _fail("création du réseau de démo", network)
        for spec in DEMO_MEMBERS:
            response = await client.post(
                "/v1/members", json=spec, headers={"X-Admin-Key": admin_key}
            )
            if response.status_code != 201:
                raise _fail(f"inscription de {spec['name']!r}", response)
            body = response.json()
            api_key = body["api_key"]
            token = await client.post("/v1/token", json={"api_key": api_key})
            if token.status_code != 200 or "access_token" not in token.json():
                raise _fail(f"jeton pour {spec['name']!r}", token)
            members.append({"id": body["member"]["id"], **spec, "api_key": api_key})
    return members


def credentials_document(
    *,
    members: list[dict[str, Any]],
    secrets_: DemoSecrets,
    urls: dict[str, str],
    receiver_url: str,
    inbox: Path,
    kafka_bootstrap: str,
) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "admin_key": secrets_.admin_key,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "services": {name: {"url": url, "docs": f"{url}/docs"} for name, url in urls.items()},
        "webhook": {"url": receiver_url, "secret": secrets_.webhook_secret, "inbox": str(inbox)},
        "members": members,
        "how_to": 'POST {directory}/v1/token {"api_key": ...} -> bearer token for the other APIs',
    }
