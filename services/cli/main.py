"""`relais`: run the system (dev, serve), manage contracts, dead letters and replays.

Commands only parse options and print; the work lives in services.cli.* and services.kit.*.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contracts import export as contracts_export
from services.cli.bench import bench_app
from services.cli.catalog import (
    KAFKA_PORT,
    SERVICE_NAMES,
    SERVICES,
    ServiceSpec,
    service,
)
from services.cli.directory import directory_app
from services.cli.evaluation import evaluation_app
from services.cli.options import DevOptions, dev_signature
from services.cli.replay import parse_since, replay_service
from services.kit.dlq import as_dlq_topic, list_dead_letters, replay_dead_letters

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="relais", help="Relais : l'échange d'orientations des réseaux ESS.", no_args_is_help=True
)
contracts_app = typer.Typer(
    help="Le format d'échange (schémas JSON, AsyncAPI).", no_args_is_help=True
)
dlq_app = typer.Typer(help="Lettres mortes (<topic>.dlq) : lister, rejouer.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
app.add_typer(dlq_app, name="dlq")
app.add_typer(bench_app, name="bench")
app.add_typer(directory_app, name="directory")
app.add_typer(evaluation_app, name="evaluation")

BootstrapOpt = Annotated[
    str | None,
    typer.Option("--bootstrap", help="Kafka (défaut : $KAFKA_BOOTSTRAP_SERVERS ou 127.0.0.1:9092)"),
]


def _bootstrap(value: str | None) -> str:
    # aiokafka logs each refused connection; the failure reaches us as one exception.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return value or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{KAFKA_PORT}"


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]Erreur :[/] {message}", soft_wrap=True)
    return typer.Exit(1)


# --- dev / serve -----------------------------------------------------------------------------


def _dev(**options: Any) -> None:
    from services.cli.dev import run_dev  # heavy imports only for this command

    ports = {s.name: options.pop(f"{s.name}_port") for s in SERVICES}
    dev_options = DevOptions.from_cli(service_ports=ports, **options)
    raise typer.Exit(asyncio.run(run_dev(dev_options, console)))


_dev.__signature__ = dev_signature()  # type: ignore[attr-defined]
_dev.__annotations__ = {p.name: p.annotation for p in _dev.__signature__.parameters.values()}  # type: ignore[attr-defined]
app.command(
    "dev",
    help="Tout le système sur cette machine : Kafka embarqué, services, démo. Ctrl-C arrête tout.",
)(_dev)


@app.command()
def serve(
    name: Annotated[str, typer.Argument(help=f"service : {', '.join(SERVICE_NAMES)}")],
    host: Annotated[str | None, typer.Option(help="défaut : <SERVICE>_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="défaut : <SERVICE>_PORT")] = None,
) -> None:
    """Un service au premier plan (production, compose)."""
    import uvicorn

    try:
        spec = service(name)
        settings = spec.settings()  # fail here, in one line, on a bad configuration
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    uvicorn.run(
        spec.app_factory,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
    )


@app.command("demo")
def demo_command(
    url_file: Annotated[
        Path,
        typer.Option("--url-file", help="identifiants de démo écrits par `relais dev`"),
    ] = Path("var/demo-credentials.json"),
    wait: Annotated[
        float, typer.Option("--wait", help="secondes d'attente de la copie des membres")
    ] = 60.0,
) -> None:
    """Joue un parcours complet sur la pile lancée (`relais dev`) et affiche sa chronologie."""
    from services.cli.demo_chain import run_demo

    raise typer.Exit(asyncio.run(run_demo(url_file, console, wait_seconds=wait)))


# --- contracts -------------------------------------------------------------------------------


def schema_differences(directory: Path) -> list[str]:
    """What differs between the generated schemas and `directory` (empty: up to date)."""
    expected = contracts_export.render_all()
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    problems = [f"manquant : {n}" for n in sorted(expected) if n not in present]
    problems += [
        f"différent : {n}"
        for n in sorted(expected)
        if n in present and (directory / n).read_text(encoding="utf-8") != expected[n]
    ]
    problems += [f"en trop : {n}" for n in sorted(present - expected.keys())]
    return problems


@contracts_app.command("export")
def contracts_export_cmd(
    check: Annotated[bool, typer.Option("--check", help="vérifier sans écrire (CI)")] = False,
    schema_dir: Annotated[Path, typer.Option("--schema-dir", help="dossier des schémas")] = (
        contracts_export.SCHEMA_DIR
    ),
) -> None:
    """Génère les schémas JSON et le document AsyncAPI (ou vérifie qu'ils sont à jour)."""
    if check:
        problems = schema_differences(schema_dir)
        if problems:
            for line in problems:
                err_console.print(f"  {line}")
            raise _fail(
                f"{len(problems)} schéma(s) pas à jour dans {schema_dir} : "
                "lancez `relais contracts export`."
            )
        console.print(f"[green]✓[/] schémas à jour ({schema_dir})")
        return
    written = contracts_export.write_all(schema_dir)
    console.print(f"[green]✓[/] {len(written)} fichiers écrits dans {schema_dir}")


# --- dead letters ----------------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[list[str] | None, typer.Option("--topic", help="topic source ou .dlq")] = None,
    bootstrap: BootstrapOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="sortie JSON")] = False,
) -> None:
    """Liste les lettres mortes (tous les topics par défaut)."""
    try:
        records = asyncio.run(list_dead_letters(_bootstrap(bootstrap), topic or None))
    except Exception as exc:
        raise _fail(f"lecture impossible ({_bootstrap(bootstrap)}) : {exc}") from exc
    if as_json:
        dump = [r.model_dump(mode="json") for r in records]
        print(json.dumps(dump, indent=2, ensure_ascii=False))
        return
    if not records:
        console.print("Aucune lettre morte.")
        return
    table = Table(title=f"{len(records)} lettre(s) morte(s)", title_justify="left")
    for column in (
        "dlq",
        "part:offset",
        "raison",
        "origine",
        "consommateur",
        "essais",
        "type",
        "erreur",
    ):
        table.add_column(column, overflow="fold")
    for r in records:
        origin = f"{r.original_topic}[{r.original_partition}]@{r.original_offset}"
        table.add_row(
            r.topic,
            f"{r.partition}:{r.offset}",
            r.reason or "?",
            origin,
            r.consumer or "",
            str(r.attempts or ""),
            r.ce_type or "",
            (r.error or "")[:160],
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Option("--topic", help="topic .dlq (ou son topic source)")],
    offset: Annotated[
        list[str] | None, typer.Option("--offset", help="N ou partition:N (répétable)")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="rejouer toutes les lettres")] = False,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Republie des lettres mortes sur leur topic d'origine, sans les en-têtes x-dlq-*."""
    if bool(offset) == all_:
        raise _fail("indiquez soit --offset N (répétable), soit --all.")
    dlq = as_dlq_topic(topic)
    try:
        chosen = None if all_ else offset
        count = asyncio.run(replay_dead_letters(_bootstrap(bootstrap), dlq, chosen))
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(f"rejeu impossible ({_bootstrap(bootstrap)}) : {exc}") from exc
    console.print(f"[green]✓[/] {count} lettre(s) rejouée(s) depuis {dlq}")


# --- replay ----------------------------------------------------------------------------------


@app.command()
def replay(
    since: Annotated[str, typer.Option("--since", help="2h, 30m, 7d ou date ISO (heure de Paris)")],
    service_names: Annotated[
        list[str] | None,
        typer.Option("--service", help=f"parmi {', '.join(SERVICE_NAMES)} (défaut : tous)"),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option("--bootstrap", help="défaut : celui des réglages de chaque service"),
    ] = None,
) -> None:
    """Republie les événements gardés dans les outbox (broker qui a perdu ses données)."""
    try:
        moment = parse_since(since)
        specs = [service(n) for n in service_names] if service_names else list(SERVICES)
    except ValueError as exc:
        raise _fail(str(exc)) from exc

    async def run_one(spec: ServiceSpec) -> str:
        try:
            count = await replay_service(spec, moment, bootstrap=bootstrap)
        except Exception as exc:  # one unreachable database must not hide the others
            return f"[red]erreur : {exc}[/]"
        return "pas de base" if count is None else str(count)

    async def run_all() -> list[tuple[str, str]]:
        return [(s.name, await run_one(s)) for s in specs]

    results = asyncio.run(run_all())
    console.print(f"Rejeu des outbox depuis {moment.isoformat()}", soft_wrap=True)
    table = Table()
    table.add_column("service")
    table.add_column("événements", justify="right", overflow="fold")
    for name, outcome in results:
        table.add_row(name, outcome)
    console.print(table)
    if any(outcome.startswith("[red]") for _, outcome in results):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
