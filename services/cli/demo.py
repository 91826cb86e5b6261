"""Demo state for `relais dev`: secrets, the demo data loaded through the directory API, and
var/demo-credentials.json.

The data is `services.directory.demo_data.generate()`; loading it is only API calls, as an
operator's script would make them: networks and members with the platform admin key, each
member's offers with a token from its own API key, users invited and then given the demo
password with their invitation link. Calls run concurrently (bounded), so the load takes a
few seconds. Choosing a password costs an argon2 hash on the directory (about 0.1 s of CPU
each), so only the accounts people try first are activated during the load (operators,
the funder, the first two members'); `activate_accounts` does the rest in the background.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from services.directory.demo_data import DemoAccount, DemoData, generate

CONCURRENCY = 8  # requests in flight while loading
ACTIVATION_CONCURRENCY = 2  # password hashes in flight: argon2 is CPU-bound on the directory
T = TypeVar("T")
R = TypeVar("R")


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


async def _each(items: Iterable[T], call: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """`call` on every item, at most `limit` at once; results in order; the first error
    cancels the rest and is raised as is."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await call(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


@dataclass
class PendingAccount:
    """An invited account and its one-time invitation secret (None: use a reset link)."""

    account: DemoAccount
    secret: str | None


@dataclass
class LoadedDemo:
    data: DemoData
    member_ids: dict[str, str]  # slug -> id
    api_keys: dict[str, str]  # slug -> API key
    active: set[str] = field(default_factory=set)  # e-mails of accounts with their password
    pending: list[PendingAccount] = field(default_factory=list)


def _first_accounts(data: DemoData) -> set[str]:
    """The accounts activated during the load: operators, funder, the first two members'."""
    first_two = {m.slug for m in data.members[:2]}
    return {a.email for a in data.accounts if a.member is None or a.member in first_two}


async def load_demo(
    directory_url: str,
    admin_key: str,
    data: DemoData | None = None,
    *,
    concurrency: int = CONCURRENCY,
    progress: Callable[[str], None] | None = None,
) -> LoadedDemo:
    """Networks, members (their API keys checked), offers and invitations; the first
    accounts get the demo password, the others are returned as pending."""
    data = data or generate()
    say = progress or (lambda _text: None)
    admin = {"X-Admin-Key": admin_key}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=directory_url, timeout=30, limits=limits) as client:

        async def network(body: dict[str, Any]) -> None:
            response = await client.post("/v1/networks", json=body, headers=admin)
            if response.status_code not in (201, 409):
                raise _fail(f"création du réseau {body['id']}", response)

        async def member(body: dict[str, Any]) -> tuple[str, str, str]:
            response = await client.post("/v1/members", json=body, headers=admin)
            if response.status_code != 201:
                raise _fail(f"inscription de {body['name']!r}", response)
            registered = response.json()
            api_key = registered["api_key"]
            token = await client.post("/v1/token", json={"api_key": api_key})
            if token.status_code != 200 or "access_token" not in token.json():
                raise _fail(f"jeton pour {body['name']!r}", token)
            return registered["member"]["id"], api_key, token.json()["access_token"]

        say("réseaux")
        await _each([n.payload() for n in data.networks], network, concurrency)
        say(f"{len(data.members)} structures")
        registered = await _each([m.payload() for m in data.members], member, concurrency)
        ids = {m.slug: r[0] for m, r in zip(data.members, registered, strict=True)}
        keys = {m.slug: r[1] for m, r in zip(data.members, registered, strict=True)}
        tokens = {m.slug: r[2] for m, r in zip(data.members, registered, strict=True)}

        async def offer(index: int) -> None:
            item = data.offers[index]
            response = await client.post(
                "/v1/offers",
                json=item.payload(ids[item.member]),
                headers={"Authorization": f"Bearer {tokens[item.member]}"},
            )
            if response.status_code != 201:
                raise _fail(f"publication de l'offre {item.title!r}", response)

        first = _first_accounts(data)
        invited: dict[str, PendingAccount] = {}
        active: set[str] = set()

        async def account(item: DemoAccount) -> None:
            member_id = ids[item.member] if item.member else None
            response = await client.post("/v1/users", json=item.payload(member_id), headers=admin)
            if response.status_code != 201:
                raise _fail(f"invitation de {item.email}", response)
            pending = PendingAccount(item, invitation_secret(response.json()["invitation_url"]))
            if item.email in first:
                active.add(await _set_password(client, pending, data.password))
            else:
                invited[item.email] = pending

        # One pool: the first accounts' password hashes (CPU on the directory, off its event
        # loop) overlap with the offers' and invitations' database writes.
        say(f"{len(data.offers)} offres, {len(data.accounts)} comptes")
        jobs: list[Callable[[], Awaitable[None]]] = [
            functools.partial(account, a) for a in data.accounts if a.email in first
        ]
        jobs += [functools.partial(offer, i) for i in range(len(data.offers))]
        jobs += [functools.partial(account, a) for a in data.accounts if a.email not in first]
        await _each(jobs, lambda job: job(), concurrency)
    pending = [invited[a.email] for a in data.accounts if a.email in invited]
    return LoadedDemo(data, ids, keys, active=active, pending=pending)


def invitation_secret(invitation_url: str) -> str:
    """The one-time secret of an invitation (or reset) link: its `jeton` parameter."""
    values = parse_qs(urlsplit(invitation_url).query).get("jeton")
    if not values:
        raise DemoError(f"lien d'invitation sans jeton : {invitation_url}")
    return values[0]


async def activate_accounts(
    directory_url: str,
    accounts: list[PendingAccount],
    password: str,
    *,
    concurrency: int = ACTIVATION_CONCURRENCY,
) -> set[str]:
    """Give each account the demo password with its one-time link (a password-reset link,
    which the directory returns in development, when the invitation's is unknown). Returns
    the e-mails activated."""
    async with httpx.AsyncClient(base_url=directory_url, timeout=60) as client:

        async def activate(pending: PendingAccount) -> str:
            return await _set_password(client, pending, password)

        return set(await _each(accounts, activate, concurrency))


async def _set_password(client: httpx.AsyncClient, pending: PendingAccount, password: str) -> str:
    email, secret = pending.account.email, pending.secret
    if secret is None:
        reset = await client.post("/v1/password-resets", json={"email": email})
        link = reset.json().get("development_link") if reset.status_code == 202 else None
        if not link:
            raise _fail(f"lien de réinitialisation pour {email}", reset)
        secret = invitation_secret(link)
    response = await client.post("/v1/password", json={"token": secret, "password": password})
    if response.status_code != 200:
        raise _fail(f"mot de passe de {email}", response)
    return email


def pending_from_credentials(data: DemoData, kept: dict[str, Any]) -> list[PendingAccount]:
    """Accounts a kept credentials file says were never activated (the stack stopped first)."""
    accounts = kept.get("accounts")
    inactive = {
        a.get("email")
        for a in (accounts if isinstance(accounts, list) else [])
        if isinstance(a, dict) and a.get("active") is False
    }
    return [PendingAccount(a, None) for a in data.accounts if a.email in inactive]


# --- var/demo-credentials.json ------------------------------------------------------------
def members_document(loaded: LoadedDemo) -> list[dict[str, Any]]:
    """Every demo member with its id and API key; the first two can refer to each other."""
    return [
        {
            "id": loaded.member_ids[m.slug],
            "slug": m.slug,
            "name": m.name,
            "api_key": loaded.api_keys[m.slug],
            "network_ids": list(m.network_ids),
            "commune": m.commune,
            "departement": m.departement,
            "circle": m.circle,
            "schemes": list(m.schemes),
            "offers": sum(1 for o in loaded.data.offers if o.member == m.slug),
        }
        for m in loaded.data.members
    ]


def networks_document(data: DemoData) -> list[dict[str, Any]]:
    return [
        {
            **n.payload(),
            "members": len(data.members_of(n.id)),
            "offers": len(data.offers_of(n.id)),
        }
        for n in data.networks
    ]


def accounts_document(loaded: LoadedDemo) -> list[dict[str, Any]]:
    names = {m.slug: m.name for m in loaded.data.members}
    return [
        {
            "email": a.email,
            "password": loaded.data.password,
            "role": a.roles[0],
            "name": a.name,
            "member_id": loaded.member_ids[a.member] if a.member else None,
            "member": names[a.member] if a.member else None,
            "network": a.network,
            "active": a.email in loaded.active,
        }
        for a in loaded.data.accounts
    ]


def credentials_document(
    *,
    loaded: LoadedDemo,
    secrets_: DemoSecrets,
    urls: dict[str, str],
    receiver_url: str,
    inbox: Path,
    kafka_bootstrap: str,
) -> dict[str, Any]:
    data = loaded.data
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "admin_key": secrets_.admin_key,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "services": {name: {"url": url, "docs": f"{url}/docs"} for name, url in urls.items()},
        "webhook": {"url": receiver_url, "secret": secrets_.webhook_secret, "inbox": str(inbox)},
        "networks": networks_document(data),
        "members": members_document(loaded),
        "demo_password": data.password,
        "accounts_ready": not loaded.pending,
        "accounts": accounts_document(loaded),
        "deliberate_gaps": [g.as_dict() for g in data.gaps],
        "how_to": {
            "member tool": 'POST {directory}/v1/token {"api_key": ...} -> bearer token',
            "person": 'POST {directory}/v1/token {"email": ..., "password": ...} -> bearer token',
            "docs": "docs/demo.md",
        },
    }
