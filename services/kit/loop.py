"""Run a coroutine on the event loop the services run on.

`relais serve` runs under uvicorn, which picks uvloop when it is installed (a dependency on
Linux and macOS); commands that run a service part outside uvicorn (the benches, their
child processes) use this so that they measure the same loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # Windows: the standard loop
        return asyncio.run(main)
    return uvloop.run(main)
