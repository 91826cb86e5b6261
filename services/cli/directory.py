"""`relais directory`: import an operator's CSV through the directory's API, show its format.

`import-csv` posts the file to `POST /v1/imports/csv` asking for a progress stream
(NDJSON): the server validates every row, then writes the good ones one by one and reports
each write, which moves the bar; the rejected rows are printed with their line numbers.
Exit code 0 when every row is imported or already there, 1 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)
directory_app = typer.Typer(
    help="Annuaire : import CSV des structures et offres d'un réseau.", no_args_is_help=True
)
NDJSON = "application/x-ndjson"


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]Erreur :[/] {message}", soft_wrap=True)
    return typer.Exit(1)


def _auth(admin_key: str | None, token: str | None) -> dict[str, str]:
    if token:
        return {"Authorization": f"Bearer {token}"}
    if admin_key:
        return {"X-Admin-Key": admin_key}
    raise _fail("indiquez --token (opérateur·rice du réseau) ou --admin-key.")


def _error_of(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:500]


def print_report(report: dict[str, Any]) -> None:
    console.print(
        f"Réseau {report['network_id']} : [green]{report['imported']} importée(s)[/], "
        f"{report['existing']} déjà présente(s), [red]{report['rejected']} rejetée(s)[/]"
    )
    for note in report.get("notes", []):
        console.print(f"  [yellow]![/] {note}")
    rejected = [i for i in report["items"] if i["status"] == "rejected"]
    if rejected:
        table = Table(title="Lignes rejetées", title_justify="left")
        table.add_column("ligne", justify="right")
        table.add_column("type")
        table.add_column("référence", overflow="fold")
        table.add_column("raison", overflow="fold")
        for item in rejected:
            table.add_row(str(item.get("line") or ""), item["kind"], item["ref"], item["reason"])
        console.print(table)
    notes = [(i.get("line"), n) for i in report["items"] for n in i.get("notes", [])]
    for line, note in notes:
        console.print(f"  [yellow]ligne {line}[/] : {note}", soft_wrap=True)


@directory_app.command("import-csv")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="fichier CSV")],
    network: Annotated[str, typer.Option("--network", help="réseau où importer")],
    url: Annotated[
        str, typer.Option("--url", envvar="DIRECTORY_URL", help="adresse de l'annuaire")
    ] = "http://127.0.0.1:8001",
    admin_key: Annotated[
        str | None, typer.Option("--admin-key", envvar="DIRECTORY_ADMIN_KEY", show_default=False)
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="RELAIS_TOKEN", help="jeton d'un·e opérateur·rice"),
    ] = None,
) -> None:
    """Importe un CSV de structures et d'offres ; affiche les lignes rejetées et pourquoi."""
    import httpx

    headers = {**_auth(admin_key, token), "Content-Type": "text/csv", "Accept": NDJSON}
    report: dict[str, Any] | None = None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(30, read=None)) as client,
            client.stream(
                "POST",
                f"{url.rstrip('/')}/v1/imports/csv",
                params={"network": network},
                content=file.read_bytes(),
                headers=headers,
            ) as response,
            Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar,
        ):
            if response.status_code >= 400:
                raise _fail(f"{response.status_code} — {_error_of(response.read())}")
            task = bar.add_task("Vérification des lignes…", total=None)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                message = json.loads(line)
                if message["event"] == "progress":
                    bar.update(
                        task,
                        description="Enregistrement",
                        total=message["total"],
                        completed=message["done"],
                    )
                elif message["event"] == "report":
                    report = message["report"]
                elif message["event"] == "error":
                    raise _fail(str(message["message"]))
    except httpx.HTTPError as exc:
        raise _fail(f"annuaire injoignable à {url} ({exc})") from exc
    if report is None:
        raise _fail("la réponse s'est interrompue avant le rapport ; relancez l'import")
    print_report(report)
    raise typer.Exit(1 if report["rejected"] else 0)


@directory_app.command("csv-modele")
def csv_template() -> None:
    """Les colonnes du CSV d'import et un exemple à copier."""
    from services.directory.interchange.csv_format import COLUMNS, EXAMPLE

    table = Table(title="Colonnes (séparateur , ou ; — listes dans une cellule : a;b)")
    table.add_column("colonne")
    table.add_column("contenu", overflow="fold")
    for name, description in COLUMNS.items():
        table.add_row(name, description)
    console.print(table)
    console.print("Exemple :")
    print(EXAMPLE, end="")
