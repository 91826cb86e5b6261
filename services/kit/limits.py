"""Public endpoints refuse an oversized body before anything parses it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

from services.kit.errors import ApiError

BODY_METHODS = ("POST", "PUT", "PATCH")


def body_limit_route(limit: int) -> type[APIRoute]:
    """A route class answering 413 (`public.too_large`) to a body over `limit` bytes, whether
    declared by Content-Length or streamed, before validation reads it."""

    class BodyLimitRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def limited(request: Request) -> Response:
                if request.method not in BODY_METHODS:
                    return await handle(request)
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise ApiError(413, "public.too_large", max=limit)
                body = bytearray()
                async for chunk in request.stream():
                    body.extend(chunk)
                    if len(body) > limit:
                        raise ApiError(413, "public.too_large", max=limit)
                data = bytes(body)

                async def replay() -> Message:
                    return {"type": "http.request", "body": data, "more_body": False}

                return await handle(Request(request.scope, replay))

            return limited

    return BodyLimitRoute
