"""`relais demo` itself: read the credentials, play the chain, print the journey."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from services.cli.demo_chain.cast import DemoChainError
from services.cli.demo_chain.chain import TITLE, play_chain


def _service_url(credentials: Mapping[str, Any], name: str) -> str:
    try:
        return str(credentials["services"][name]["url"]).rstrip("/")
    except (KeyError, TypeError) as exc:
        raise DemoChainError(f"URL du service {name} absente du fichier d'identifiants") from exc


async def run_demo(credentials_path: Path, console: Console, *, wait_seconds: float = 60) -> int:
    """`relais demo`: play the chain, print the journey; 0 on success, 1 with a reason."""
    from services.cli.demo import read_credentials
    from services.cli.journey import Labels, render_journey

    credentials = read_credentials(credentials_path)
    if credentials is None or not credentials.get("members"):
        console.print(
            f"[red]Erreur :[/] pas d'identifiants de démo dans {credentials_path} : lancez "
            "d'abord `relais dev` (ou `make run`), puis `relais demo` dans un autre terminal.",
            soft_wrap=True,
        )
        return 1
    started = time.perf_counter()
    try:
        directory = _service_url(credentials, "directory")
        referral = _service_url(credentials, "referral")
        with console.status("Parcours de démonstration…") as status:

            def say(text: str) -> None:
                status.update(f"{text}…")
                console.print(f"  [dim]·[/] {text}", soft_wrap=True)

            result = await play_chain(
                directory, referral, credentials["members"], say=say, wait_seconds=wait_seconds
            )
    except DemoChainError as exc:
        console.print(f"[red]Erreur :[/] {exc}", soft_wrap=True)
        return 1
    except httpx.HTTPError as exc:
        console.print(
            f"[red]Erreur :[/] la pile ne répond pas ({type(exc).__name__}: {exc}) : "
            "`relais dev` tourne-t-il toujours ?",
            soft_wrap=True,
        )
        return 1
    console.print(
        f"  [green]✓[/] parcours joué en {time.perf_counter() - started:.1f} s "
        f"(projet {result.project_id})\n",
        soft_wrap=True,
    )
    labels = Labels(members=result.member_names)
    title = f"Parcours de « {TITLE} » — projet {result.project_id}"
    console.print(render_journey(result.timeline, labels, title=title))
    console.print(
        f"\n[dim]Chronologie brute : GET {referral}/v1/projects/{result.project_id}/timeline "
        f"(jeton de {result.cast.accueil.name}).[/dim]",
        soft_wrap=True,
    )
    return 0
