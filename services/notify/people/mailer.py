"""Email: Jinja2 templates (French by default, English on request) and sending over SMTP.

A message has a text part and an HTML part, a stable `Message-ID` derived from the
notification id (a retry keeps it), a link to the preferences, and `List-Unsubscribe` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 15.0


@dataclass
class Letter:
    """What one message says, before it becomes MIME."""

    to: list[str]
    subject: str
    lang: str
    message_id: str
    template: str  # "email" or "digest"
    values: dict[str, Any] = field(default_factory=dict)
    unsubscribe_url: str | None = None
    date: datetime | None = None


class Mailer:
    def __init__(self, smtp: SmtpConfig, sender: str) -> None:
        self.smtp, self.sender = smtp, sender

    @cached_property
    def env(self) -> Environment:
        return Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            keep_trailing_newline=True,
            undefined=StrictUndefined,
        )

    def render(self, letter: Letter) -> EmailMessage:
        values = {"lang": letter.lang, **letter.values}
        text = self.env.get_template(f"{letter.template}.txt.j2").render(values)
        html = self.env.get_template(f"{letter.template}.html.j2").render(values)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(letter.to)
        message["Subject"] = letter.subject
        message["Message-ID"] = letter.message_id
        if letter.date is not None:
            message["Date"] = format_datetime(letter.date)
        if letter.unsubscribe_url:
            message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text, cte="8bit")
        message.add_alternative(html, subtype="html", cte="8bit")
        message["Content-Language"] = letter.lang  # after the parts: set_content moves Content-*
        return message

    async def deliver(self, letter: Letter) -> EmailMessage:
        """Render and send; return what was sent."""
        message = self.render(letter)
        await self.send(message)
        return message

    async def send(self, message: EmailMessage) -> None:
        """Raise on failure (the caller retries on a durable timer)."""
        await aiosmtplib.send(
            message,
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.user,
            password=self.smtp.password,
            start_tls=self.smtp.starttls,
            use_tls=False,
            timeout=self.smtp.timeout,
        )
