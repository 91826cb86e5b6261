"""Child processes of `relais dev`: spawn with a log file, probe readiness, stop in order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from rich.console import Console

from services.kit.embedded import port_is_free

STOP_GRACE_SECONDS = 10.0


class DevError(RuntimeError):
    """Startup or run failure worth one clear line (plus optional log tails)."""

    def __init__(self, message: str, details: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)  # (title, text): e.g. the last lines of a service log


@dataclass(frozen=True)
class PortClaim:
    label: str
    port: int
    option: str


def port_conflict(host: str, claims: Sequence[PortClaim]) -> str | None:
    """The one-line French message for the first unusable port, or None when all are free."""
    seen: dict[int, str] = {}
    for claim in claims:
        if claim.port in seen:
            return (
                f"Le port {claim.port} est demandé deux fois ({seen[claim.port]}, {claim.label}) : "
                f"choisissez un autre port ({claim.option})."
            )
        seen[claim.port] = claim.label
    for claim in claims:
        if not port_is_free(host, claim.port):
            return (
                f"Le port {claim.port} ({claim.label}) est déjà utilisé : arrêtez l'autre "
                f"processus ou choisissez un autre port ({claim.option})."
            )
    return None


def tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(journal illisible)"


@dataclass
class Child:
    name: str
    url: str
    log_path: Path
    proc: subprocess.Popen[bytes]
    log_file: IO[bytes] = field(repr=False)

    def running(self) -> bool:
        return self.proc.poll() is None

    def died(self) -> DevError:
        return DevError(
            f"{self.name} s'est arrêté (code {self.proc.returncode}) ; journal : {self.log_path}",
            [(f"{self.name} — dernières lignes de {self.log_path}", tail(self.log_path))],
        )


def spawn(
    name: str, url: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path
) -> Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "ab")
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        # Own session: Ctrl-C reaches only us, and we stop children before the broker.
        start_new_session=True,
    )
    return Child(name, url, log_path, proc, log_file)


def stop_all(children: Sequence[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM everyone, wait up to `grace` seconds in total, then SIGKILL the rest."""
    for child in children:
        if child.running():
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
        child.log_file.close()


async def wait_ready(
    children: Sequence[Child], console: Console, timeout: float = 60.0, path: str = "/readyz"
) -> None:
    """Poll every child's readiness endpoint until all answer 200; fail fast if one dies."""
    pending = {c.name: c for c in children}
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        with console.status("Démarrage des services…") as status:
            while pending:
                for child in list(pending.values()):
                    if not child.running():
                        raise child.died()
                    try:
                        response = await client.get(child.url + path)
                    except httpx.HTTPError as exc:
                        last[child.name] = f"{type(exc).__name__}"
                        continue
                    if response.status_code == 200:
                        del pending[child.name]
                        console.print(f"  [green]✓[/] {child.name} prêt ({child.url})")
                    else:
                        last[child.name] = f"HTTP {response.status_code} {response.text[:200]}"
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise DevError(
                        f"pas prêts après {timeout:.0f} s : {', '.join(pending)}",
                        [
                            (f"{c.name} — {last.get(c.name, '?')} — {c.log_path}", tail(c.log_path))
                            for c in pending.values()
                        ],
                    )
                status.update(f"En attente de : {', '.join(pending)}…")
                await asyncio.sleep(0.3)
