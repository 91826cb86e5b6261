"""A real HTTP receiver for webhooks: records every request (headers and raw body)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response

from services.kit.embedded import free_port
from tests.harness.stack import RunningService, serve, stop


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status_codes: list[int] = field(default_factory=list)  # answers to give, in order; then 204
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    app = FastAPI()
    port = free_port()
    receiver = WebhookReceiver(url=f"http://127.0.0.1:{port}/hook")

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        receiver.requests.append(Received(dict(request.headers), await request.body()))
        receiver.arrived.set()
        status = receiver.status_codes.pop(0) if receiver.status_codes else 204
        return Response(status_code=status)

    running: RunningService = await serve("receiver", app, port)
    try:
        yield receiver
    finally:
        await stop(running)
