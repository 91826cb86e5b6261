"""Options of `relais dev`: ports, partitions, var/ — and the CLI signature that sets them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli.catalog import KAFKA_PORT, RECEIVER_PORT, SERVICES

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 8000


@dataclass
class DevOptions:
    keep: bool = False
    partitions: int = 6
    ports: dict[str, int] = field(default_factory=lambda: {s.name: s.port for s in SERVICES})
    receiver_port: int = RECEIVER_PORT
    kafka_port: int = KAFKA_PORT
    var_dir: Path = Path("var")
    ready_timeout: float = 60.0

    @classmethod
    def from_cli(
        cls,
        *,
        keep: bool,
        partitions: int,
        base_port: int | None,
        kafka_port: int,
        receiver_port: int | None,
        service_ports: dict[str, int | None],
    ) -> DevOptions:
        """`--base-port` shifts every default port; a `--<service>-port` wins over it."""
        shift = 0 if base_port is None else base_port - DEFAULT_BASE_PORT
        ports = {s.name: service_ports.get(s.name) or s.port + shift for s in SERVICES}
        return cls(
            keep=keep,
            partitions=partitions,
            ports=ports,
            kafka_port=kafka_port,
            receiver_port=receiver_port or RECEIVER_PORT + shift,
        )


def _opt(name: str, annotation: Any, default: Any, *decls: str, **kwargs: Any) -> inspect.Parameter:
    option = typer.Option(*decls, **kwargs)
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[annotation, option],
    )


def dev_signature() -> inspect.Signature:
    """Static options plus one `--<service>-port` per catalogued service (data, not code)."""
    params = [
        _opt(
            "keep",
            bool,
            False,
            "--keep",
            help="garder var/ (bases, identifiants) et rejouer les outbox",
        ),
        _opt("partitions", int, 6, "--partitions", min=1, help="partitions par topic créé"),
        _opt(
            "base_port",
            int | None,
            None,
            "--base-port",
            help="décale tous les ports par défaut (8000 -> base)",
        ),
        _opt("kafka_port", int, KAFKA_PORT, "--kafka-port", help="port du broker embarqué"),
        _opt(
            "receiver_port",
            int | None,
            None,
            "--receiver-port",
            help=f"port du récepteur de webhooks de démo (défaut {RECEIVER_PORT})",
        ),
    ]
    params += [
        _opt(
            f"{s.name}_port",
            int | None,
            None,
            s.port_option,
            help=f"port du service {s.name} (défaut {s.port})",
        )
        for s in SERVICES
    ]
    return inspect.Signature(params)
