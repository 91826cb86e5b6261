"""Decide which broker and which PostgreSQL the session uses (DESIGN.md, "Running it").

Order, for both: an explicit URL from the environment; testcontainers when a Docker
engine answers; a local fallback (embedded Tansu / initdb+pg_ctl); for PostgreSQL,
finally, skip and say why. Nothing here starts a server.
"""

from __future__ import annotations

import functools
import glob
import importlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_ENV = "RELAIS_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Plan:
    kind: Literal["env", "docker", "local", "skip"]
    detail: str  # for humans (report header, skip reason); fixtures read the env themselves


@functools.cache
def docker_answers() -> bool:
    """True when a Docker engine answers `docker info` within a few seconds."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=5, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def container_class(module: str, name: str) -> Any | None:
    """testcontainers class by name, or None if the package is missing.

    testcontainers >= 4.14 moved modules under `testcontainers.community`; try both.
    """
    for prefix in ("testcontainers.community.", "testcontainers."):
        try:
            return getattr(importlib.import_module(prefix + module), name)
        except (ImportError, AttributeError):
            continue
    return None


@functools.cache
def pg_bin_dir() -> Path | None:
    """Directory holding both initdb and pg_ctl: PATH first, then the Debian layout."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    # Debian keeps them off PATH; prefer the newest major version.
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for d in candidates:
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def pg_run_as() -> str | None:
    """The user to run the local cluster as: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return ""  # root without a postgres user: cannot run a local cluster


@functools.cache
def broker_plan() -> Plan:
    if os.environ.get(KAFKA_ENV):
        return Plan("env", f"{KAFKA_ENV}={os.environ[KAFKA_ENV]}")
    if docker_answers() and container_class("kafka", "KafkaContainer") is not None:
        return Plan("docker", "testcontainers Kafka")
    return Plan("local", "embedded Tansu (no KAFKA_BOOTSTRAP_SERVERS, no Docker engine)")


@functools.cache
def postgres_plan() -> Plan:
    if os.environ.get(POSTGRES_ENV):
        from sqlalchemy.engine import make_url  # only to mask a password in the header

        shown = make_url(os.environ[POSTGRES_ENV]).render_as_string(hide_password=True)
        return Plan("env", f"{POSTGRES_ENV}={shown}")
    if docker_answers() and container_class("postgres", "PostgresContainer") is not None:
        return Plan("docker", "testcontainers PostgreSQL")
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        return Plan("skip", f"no {POSTGRES_ENV}, no Docker engine, no initdb/pg_ctl found")
    user = pg_run_as()
    if user == "":
        return Plan("skip", "running as root and there is no 'postgres' system user")
    as_user = f" as user {user}" if user else ""
    return Plan("local", f"throwaway cluster from {bin_dir}{as_user}")
