"""Referral request dependencies: the use cases' collaborators."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.referral.handlers.common import Deps


async def deps_of(request: Request) -> Deps:
    deps: Deps = request.app.state.referral_deps
    return deps


async def expected_version(request: Request) -> int | None:
    """`If-Match: "3"` (an ETag this API gave) asks for optimistic concurrency."""
    header = request.headers.get("if-match")
    if not header:
        return None
    try:
        return int(header.strip().removeprefix("W/").strip('"'))
    except ValueError:
        return -1  # never matches: a 412 tells the client to read again


UseCases = Annotated[Deps, Depends(deps_of)]
IfMatch = Annotated[int | None, Depends(expected_version)]
