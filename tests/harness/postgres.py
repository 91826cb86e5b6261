"""A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir) and per-test databases."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.kit.embedded import free_port


class LocalPostgres:
    """initdb/pg_ctl cluster on 127.0.0.1:<free port>, unix socket in its own temp dir.

    When run_as is set (we are root), every command runs as that user: the postgres
    server refuses to start as root.
    """

    def __init__(self, bin_dir: Path, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.run_as = run_as
        # Not pytest's tmp_path: that lives under a 0700 root-owned dir `postgres` can't enter.
        self.root = Path(tempfile.mkdtemp(prefix="relais-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if run_as:
            shutil.chown(self.root, user=run_as)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", self.run_as, "--", *cmd]
            else:
                cmd = ["su", self.run_as, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        done = subprocess.run(
            cmd,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            return "\n--- postgres.log ---\n" + self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> None:
        data = str(self.data)
        # Durability is pointless for a throwaway cluster: --no-sync and fsync=off make it fast.
        self._run(
            "initdb", "-D", data, *"-U postgres -A trust -E UTF8 --no-locale --no-sync".split()
        )
        opts = (
            f"-k {self.root} -p {self.port} -h 127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", data, "-l", str(self.log), "-o", opts, "-w", "-t", "30", "start")
        wait_for_postgres(self.admin_url)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            # immediate: nothing here is worth a clean checkpoint.
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for_postgres(admin_url: str, timeout: float = 30) -> None:
    """Return once the server accepts a connection and a query."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_database(admin_url: str) -> str:
    """CREATE a uniquely named database; return its name."""
    name = f"relais_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:  # CREATE DATABASE can't be in a tx
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin_url: str, name: str) -> None:
    # FORCE (PG 13+) kicks out connections a test forgot to close (pools, leaked engines).
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def libpq_url(url: str) -> str:
    """Plain `postgresql://` form psycopg accepts, whatever SQLAlchemy driver suffix given."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sqlalchemy_url(admin_url: str, name: str) -> str:
    """SQLAlchemy URL (psycopg 3 driver) for database `name` on the admin URL's server."""
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)
