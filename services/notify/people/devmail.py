"""The development SMTP server: accepts every message and keeps it as a readable `.eml` file.

`relais dev` (`make run`) starts it in its own process space (a thread of the CLI) and points
notify at it; tests run it on a free 127.0.0.1 port into a temporary directory. It is the
"real SMTP server" of the integration tests: messages go through aiosmtplib and the SMTP
protocol exactly as they would to a production relay (minus STARTTLS and authentication).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from services.kit.embedded import free_port

HOST = "127.0.0.1"


class MaildirHandler:
    """aiosmtpd handler: one `<n>-<time>.eml` file per message, envelope in `X-Envelope-*`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._counter = itertools.count(len(list(self.directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        with self._lock:
            number = next(self._counter)
        (self.directory / f"{number:06d}.eml").write_bytes(head + content)
        return "250 Message accepted for delivery"


@dataclass
class DevMailServer:
    directory: Path
    port: int
    controller: Controller

    @property
    def host(self) -> str:
        return HOST

    def messages(self) -> list[EmailMessage]:
        """Every kept message, oldest first, parsed."""
        parsed: list[EmailMessage] = []
        for path in sorted(self.directory.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed

    def stop(self) -> None:
        self.controller.stop()


def start_dev_mail(directory: Path, port: int | None = None) -> DevMailServer:
    """Start the server in a background thread (returns once it accepts connections)."""
    port = port or free_port()
    controller = Controller(
        MaildirHandler(directory), hostname=HOST, port=port, decode_data=False, enable_SMTPUTF8=True
    )
    controller.start()
    return DevMailServer(directory, port, controller)


def dev_stack_env(var_dir: Path, url: Callable[[str], str]) -> dict[str, str]:
    """For `relais dev`: start the dev SMTP server into `var/mail/` and return the env that
    points notify at it and at the directory and referral services it asks for addresses."""
    server = start_dev_mail(var_dir / "mail")
    return {
        "NOTIFY_SMTP_HOST": server.host,
        "NOTIFY_SMTP_PORT": str(server.port),
        "NOTIFY_DIRECTORY_URL": url("directory"),
        "NOTIFY_REFERRAL_URL": url("referral"),
    }
