"""The `relais` CLI without a broker: contracts check, port check, option parsing.

The stale-copy test works in a temp dir (`--schema-dir`), never on contracts/schemas/.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from services.cli.demo_receiver import Inbox
from services.cli.dev import DevOptions
from services.cli.main import app
from services.cli.procs import PortClaim, port_conflict
from services.cli.replay import parse_since
from services.kit.dlq import as_dlq_topic, parse_offset_ref
from services.kit.embedded import free_port

runner = CliRunner()


def test_contracts_check_passes_on_checked_in_schemas() -> None:
    result = runner.invoke(app, ["contracts", "export", "--check"])
    assert result.exit_code == 0, result.output


def test_contracts_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    copy = tmp_path / "schemas"
    export = ["contracts", "export", "--schema-dir", str(copy)]
    check = [*export, "--check"]
    assert runner.invoke(app, check).exit_code == 1  # nothing there yet: all missing
    assert runner.invoke(app, export).exit_code == 0
    assert runner.invoke(app, check).exit_code == 0

    victim = sorted(p for p in copy.glob("fr.relais.*.json"))[0]
    victim.write_text(victim.read_text(encoding="utf-8").replace('"type"', '"tipe"', 1))
    (copy / "asyncapi.json").unlink()
    (copy / "stray.json").write_text("{}")
    result = runner.invoke(app, check)
    assert result.exit_code == 1
    assert f"différent : {victim.name}" in result.output
    assert "manquant : asyncapi.json" in result.output
    assert "en trop : stray.json" in result.output

    # Without --check it rewrites the directory, after which the check passes again.
    assert runner.invoke(app, export).exit_code == 0
    (copy / "stray.json").unlink()
    assert runner.invoke(app, check).exit_code == 0


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port someone else listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_check_names_the_taken_port(taken_port: int) -> None:
    free = free_port()
    claims = [
        PortClaim("directory", free, "--directory-port"),
        PortClaim("referral", taken_port, "--referral-port"),
    ]
    message = port_conflict("127.0.0.1", claims)
    assert message == (
        f"Le port {taken_port} (referral) est déjà utilisé : arrêtez l'autre processus "
        "ou choisissez un autre port (--referral-port)."
    )
    assert port_conflict("127.0.0.1", claims[:1]) is None


def test_port_check_refuses_the_same_port_twice() -> None:
    port = free_port()
    message = port_conflict(
        "127.0.0.1",
        [
            PortClaim("referral", port, "--referral-port"),
            PortClaim("notify", port, "--notify-port"),
        ],
    )
    assert message is not None and str(port) in message and "--notify-port" in message


def test_dev_stops_before_touching_anything_when_a_port_is_taken(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "var" / "keep-me"
    marker.parent.mkdir()
    marker.write_text("state of another relais dev")
    args = [
        "dev",
        "--kafka-port",
        str(free_port()),
        "--receiver-port",
        str(free_port()),
        "--directory-port",
        str(free_port()),
        "--referral-port",
        str(taken_port),
        "--evaluation-port",
        str(free_port()),
        "--notify-port",
        str(free_port()),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert f"Le port {taken_port} (referral) est déjà utilisé" in result.output
    assert "(--referral-port)." in result.output
    assert marker.exists()  # var/ is wiped only once every port is known to be free


def test_base_port_shifts_defaults_and_explicit_ports_win() -> None:
    options = DevOptions.from_cli(
        keep=False,
        partitions=3,
        base_port=9000,
        kafka_port=9092,
        receiver_port=None,
        service_ports={"notify": 9999},
    )
    assert options.ports == {
        "directory": 9001,
        "referral": 9002,
        "evaluation": 9003,
        "notify": 9999,
    }
    assert options.receiver_port == 9010


def test_parse_since() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 2, 22, 12, 0, tzinfo=UTC)
    # Naive dates are Paris time (UTC+1 in winter).
    assert parse_since("2026-01-05", now) == datetime(2026, 1, 4, 23, 0, tzinfo=UTC)
    assert parse_since("2026-01-05T09:00:00Z", now) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="date invalide"):
        parse_since("yesterday", now)


def test_dlq_helpers() -> None:
    assert as_dlq_topic("referral.events") == "referral.events.dlq"
    assert as_dlq_topic("referral.events.dlq") == "referral.events.dlq"
    assert parse_offset_ref(12) == (None, 12)
    assert parse_offset_ref("12") == (None, 12)
    assert parse_offset_ref("3:12") == (3, 12)
    with pytest.raises(ValueError):
        parse_offset_ref("x")


def test_demo_receiver_verifies_and_records(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    inbox = Inbox(tmp_path / "inbox", secret)
    body = b'{"type":"fr.relais.referral.sent.v1"}'
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", now, body.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    good = inbox.receive("/webhooks", headers, body)
    bad = inbox.receive("/webhooks", {**headers, "webhook-id": "msg_2"}, body)
    assert good["signature_verified"] is True and good["json"] == {
        "type": "fr.relais.referral.sent.v1"
    }
    assert bad["signature_verified"] is False and bad["verification_error"]
    files = sorted((tmp_path / "inbox").glob("*.json"))
    assert [json.loads(f.read_text())["headers"]["webhook-id"] for f in files] == ["msg_1", "msg_2"]
