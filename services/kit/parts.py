"""A service part: one slice of a service (its tables, consumers, timers, routes, hooks).

A service whose concerns are independent (notify's webhooks and its people channels, say)
builds each as a part and `create_app` adds them up, so the slices do not edit one
another's files and each consumes in its own consumer group (a slow SMTP relay never
stalls webhooks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from fastapi import APIRouter
from sqlmodel import SQLModel

from services.kit.consumer import Subscription
from services.kit.timers import TimerHandler

Hook = Callable[[], Awaitable[None]]


@dataclass
class ServicePart:
    models: list[type[SQLModel]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    timer_handlers: dict[str, TimerHandler] = field(default_factory=dict)
    routers: list[APIRouter] = field(default_factory=list)
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)

    @classmethod
    def combine(cls, parts: Iterable[ServicePart]) -> ServicePart:
        total = cls()
        for part in parts:
            clash = total.timer_handlers.keys() & part.timer_handlers.keys()
            if clash:
                raise ValueError(f"timer kinds declared twice: {sorted(clash)}")
            total.models += [m for m in part.models if m not in total.models]
            total.subscriptions += part.subscriptions
            total.timer_handlers |= part.timer_handlers
            total.routers += part.routers
            total.on_start += part.on_start
            total.on_stop += part.on_stop
        return total
