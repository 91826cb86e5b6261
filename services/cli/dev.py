"""`relais dev`: the whole system on one machine — broker, services, demo receiver, demo data.

Order matters: ports are checked before anything is touched (a second `relais dev` must not
wipe the `var/` of the first), kept outboxes are replayed before services start (their
consumers then read history in order), and on exit children stop before the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from rich.console import Console
from rich.panel import Panel

from services.cli.options import DevOptions
from services.cli.procs import DevError
from services.cli.stack import DevStack

__all__ = ["DevOptions", "DevStack", "run_dev"]


async def run_dev(options: DevOptions, console: Console) -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or a failure (exit 1); always clean up."""
    # aiokafka logs every refused connection while the broker boots; failures that matter
    # reach us as exceptions and are reported in French.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    stack = DevStack(options, console)
    try:
        await stack.up()
        console.print(stack.summary())
        if stack.credentials_path.exists():
            console.print(
                f"Identifiants de démo : [bold]{stack.credentials_path}[/]", soft_wrap=True
            )
        console.print(f"Webhooks reçus : {stack.var / 'partner-inbox'}", soft_wrap=True)
        console.print(f"Journaux : {stack.var / 'logs'}", soft_wrap=True)
        console.print("Ctrl-C pour tout arrêter.")
        await stack.watch()
        return 1
    except asyncio.CancelledError:
        console.print("\nArrêt demandé.")
        return 0
    except DevError as exc:
        console.print(f"[red]Erreur :[/] {exc.message}", soft_wrap=True)
        for title, text in exc.details:
            console.print(Panel(text, title=title, title_align="left", border_style="red"))
        return 1
    except Exception as exc:  # a bug or an unforeseen failure: still stop every child
        console.print(f"[red]Erreur inattendue :[/] {type(exc).__name__}: {exc}", soft_wrap=True)
        return 1
    finally:
        stack.down()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
