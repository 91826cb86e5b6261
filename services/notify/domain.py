"""Pure notify rules: stable delivery ids and thin webhook payloads. No I/O."""

from __future__ import annotations

import hashlib
from typing import Any

from contracts.envelope import CloudEvent


def delivery_id(event_id: str, endpoint: str) -> str:
    """Stable per (event, endpoint): a redelivered event never gets a second webhook-id."""
    return "msg_" + hashlib.sha256(f"{event_id}|{endpoint}".encode()).hexdigest()[:24]


def webhook_payload(envelope: CloudEvent) -> dict[str, Any]:
    """Thin payload: ids and non-personal facts; the partner fetches details with its token."""
    return {
        "type": envelope.type,
        "id": envelope.id,
        "timestamp": envelope.time.isoformat(),
        "data": envelope.data,
    }
