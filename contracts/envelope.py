"""CloudEvents 1.0, Kafka protocol binding, binary content mode — written once.

A record carries the event attributes as `ce_*` headers, `content-type: application/json`,
and the event data as the JSON value. The record key is the aggregate id (or none).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Event

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A record that is not a valid CloudEvent in binary mode (goes to the DLQ)."""


class CloudEvent(BaseModel):
    """The envelope: CloudEvents context attributes plus JSON data."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: str = SPECVERSION
    time: datetime
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    data: dict[str, Any]
    key: str | None = None

    @classmethod
    def wrap(
        cls, event: Event, *, source: str, time: datetime, event_id: str | None = None
    ) -> CloudEvent:
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=event.type_name,
            time=time,
            subject=event.subject(),
            data=event.model_dump(mode="json"),
            key=event.record_key(),
        )


def to_kafka(event: CloudEvent) -> tuple[bytes | None, bytes, Headers]:
    """Return (key, value, headers) for a Kafka record in binary content mode."""
    headers: Headers = [
        ("ce_specversion", event.specversion.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", _rfc3339(event.time).encode()),
        ("content-type", event.datacontenttype.encode()),
    ]
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    value = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False).encode()
    key = event.key.encode() if event.key is not None else None
    return key, value, headers


def from_kafka(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes],
    key: bytes | None,
    value: bytes | None,
) -> CloudEvent:
    """Parse a binary-mode record. Raises EnvelopeError with a reason a person can act on."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    attrs: dict[str, str] = {}
    content_type = CONTENT_TYPE
    for name, raw in items:
        lowered = name.lower()
        text = raw.decode("utf-8", errors="replace") if raw is not None else ""
        if lowered == "content-type":
            content_type = text
        elif lowered.startswith("ce_"):
            attrs[lowered[3:]] = text
    missing = [a for a in ("id", "source", "type", "specversion") if not attrs.get(a)]
    if missing:
        raise EnvelopeError(
            f"missing CloudEvents header(s): {', '.join('ce_' + m for m in missing)}"
        )
    if attrs["specversion"] != SPECVERSION:
        raise EnvelopeError(f"unsupported ce_specversion {attrs['specversion']!r}")
    if not content_type.startswith("application/json"):
        raise EnvelopeError(f"unsupported content-type {content_type!r}")
    try:
        data = json.loads(value or b"")
    except ValueError as exc:
        raise EnvelopeError(f"value is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("value must be a JSON object")
    try:
        when = datetime.fromisoformat(attrs["time"]) if attrs.get("time") else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not RFC 3339: {attrs['time']!r}") from exc
    return CloudEvent(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        specversion=attrs["specversion"],
        time=when,
        subject=attrs.get("subject"),
        datacontenttype=content_type,
        data=data,
        key=key.decode("utf-8", errors="replace") if key is not None else None,
    )


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
