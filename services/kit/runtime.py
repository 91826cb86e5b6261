"""ServiceRuntime: the one object a service's create_app builds — db, clock, Kafka, relay,
timers and consumers — and starts/stops in FastAPI's lifespan. Nothing connects at import.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from services.kit.clock import Clock, SystemClock
from services.kit.consumer import EventConsumer, Subscription, one_per_group
from services.kit.db import Database
from services.kit.inbox import InboxRecord
from services.kit.messaging import EventPublisher, make_broker
from services.kit.outbox import OutboxRecord, OutboxRelay, add_event
from services.kit.settings import ServiceSettings
from services.kit.timers import TimerHandler, TimerRecord, TimerRunner

log = logging.getLogger("relais.runtime")

KIT_MODELS: list[type[SQLModel]] = [OutboxRecord, InboxRecord, TimerRecord]
_heap_frozen = False


def freeze_startup_heap() -> None:
    """Move what exists once a service has started (modules, reference data such as the
    35,000 communes) out of the garbage collector's reach, once per process.

    A full collection otherwise walks that whole heap again and again: 70-150 ms pauses of
    the event loop here, seen as event-to-delivery outliers. Objects created afterwards are
    collected as usual.
    """
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    db: Database
    clock: Clock
    publisher: EventPublisher
    broker: KafkaBroker
    relay: OutboxRelay
    timers: TimerRunner
    consumers: list[EventConsumer] = field(default_factory=list)
    kafka_connected: bool = False
    _connect_task: asyncio.Task[None] | None = None
    _stop_callbacks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _start_callbacks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: ServiceSettings,
        *,
        models: Sequence[type[SQLModel]],
        subscriptions: Sequence[Subscription] = (),
        timer_handlers: Mapping[str, TimerHandler] | None = None,
        clock: Clock | None = None,
    ) -> ServiceRuntime:
        clock = clock or SystemClock()
        db = Database(settings.effective_database_url, [*KIT_MODELS, *models])
        publisher = EventPublisher(
            settings.kafka_bootstrap_servers, f"relais-{settings.service_name}"
        )
        broker = make_broker(settings)
        relay = OutboxRelay(
            db,
            publisher.enqueue,
            clock,
            batch_size=settings.outbox_batch_size,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
        timers = TimerRunner(db, clock, timer_handlers or {})
        runtime = cls(settings, db, clock, publisher, broker, relay, timers)
        for subscription in one_per_group(subscriptions):
            consumer = EventConsumer(
                subscription, db=db, publisher=publisher, clock=clock, settings=settings
            )
            consumer.attach(broker)
            runtime.consumers.append(consumer)
        return runtime

    @property
    def source(self) -> str:
        return self.settings.event_source

    def emit(self, session: AsyncSession, event: Event) -> CloudEvent:
        """Stage an event in the outbox of the caller's transaction."""
        return add_event(session, event, source=self.source, clock=self.clock)

    def on_start(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run once the database is ready (schedule recurring timers, say)."""
        self._start_callbacks.append(callback)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Close a resource the service built (an HTTP client, say) when the app stops."""
        self._stop_callbacks.append(callback)

    async def start(self) -> None:
        await self.db.create_all()
        for callback in self._start_callbacks:
            await callback()
        freeze_startup_heap()
        self.relay.start()
        self.timers.start()
        self._connect_task = asyncio.create_task(self._connect(), name="kafka-connect")

    async def _connect(self) -> None:
        """Connect to Kafka, retrying while it is down: the HTTP side works meanwhile."""
        delay = 0.2
        while not self.kafka_connected:
            try:
                if not self.publisher.started:
                    await self.publisher.start()
                await self.broker.start()
                self.kafka_connected = True
                self.relay.wake()
                log.info(
                    "%s connected to Kafka at %s",
                    self.settings.service_name,
                    self.settings.kafka_bootstrap_servers,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Kafka not reachable yet (%s); retrying in %.1fs", exc, delay)
                try:
                    await self.broker.stop()
                except Exception:
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def stop(self) -> None:
        if self._connect_task:
            self._connect_task.cancel()
            try:
                await self._connect_task
            except asyncio.CancelledError:
                pass
        await self.timers.stop()
        await self.relay.stop()
        for callback in self._stop_callbacks:
            await callback()
        try:
            await self.broker.stop()
        finally:
            await self.publisher.stop()
            await self.db.dispose()

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await self.db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        if not self.kafka_connected:
            checks["kafka"] = "connecting"
        else:
            try:
                await self.publisher.ping()
                checks["kafka"] = "ok"
            except Exception as exc:
                checks["kafka"] = f"error: {exc}"
        checks["outbox_relay"] = "ok" if self.relay.healthy else "retrying"
        return checks

    def assigned(self) -> bool:
        """True once every consumer has partitions (tests wait on it instead of sleeping)."""
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None or not consumer.assignment():
                return False
        return True
