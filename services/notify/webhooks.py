"""Sending one signed webhook (Standard Webhooks: webhook-id, -timestamp, -signature)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None


async def send_signed(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: str,
    payload: dict,
    now: datetime,
) -> Attempt:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    signature = Webhook(secret).sign(message_id, now, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "Relais-Webhooks/1",
    }
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code, None)
    return Attempt(False, response.status_code, response.text[:200])
