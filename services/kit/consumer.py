"""The consumer wrapper: parse -> inbox -> handler -> commit, with bounded retries and a DLQ.

Routing is data: a `Subscription` maps event models to handlers. FastStream delivers batches of
raw records (up to `consumer_batch_max_records`; a custom decoder keeps the bytes) and
acknowledges — commits the offsets — only after `process_batch` returns: after the batch's
effects were committed, or after its records went to `<topic>.dlq`. A batch is handled in one
transaction (inbox + handler per record, in record order); if anything in it raises, the
transaction rolls back and every record goes again through the one-record path (`process`'s
retries, then the DLQ) — the inbox keeps effects exactly-once. If even the DLQ cannot be
written, the call raises and FastStream seeks back (NACK_ON_ERROR), so nothing is lost and the
partitions are retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from functools import cached_property
from typing import Any, Literal, Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent, EnvelopeError, from_kafka
from contracts.registry import spec_for_type
from contracts.topics import dlq_topic
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.inbox import already_processed, processed_among, record_processed
from services.kit.messaging import EventPublisher
from services.kit.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from services.kit.outbox import add_event
from services.kit.settings import ServiceSettings

log = logging.getLogger("relais.consumer")

Outcome = Literal["handled", "duplicate", "ignored", "dead_lettered"]


@dataclass
class HandlerContext:
    """What a handler may use: its transaction, the envelope, the clock, and the outbox."""

    session: AsyncSession
    envelope: CloudEvent
    clock: Clock
    source: str

    def emit(self, event: Event) -> CloudEvent:
        return add_event(self.session, event, source=self.source, clock=self.clock)


Handler = Callable[[Any, HandlerContext], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One consumer group on one topic (or more: `extra_topics`), with its routing table
    (event model -> handler)."""

    topic: str
    purpose: str
    routes: Mapping[type[Event], Handler] = field(default_factory=dict)
    extra_topics: tuple[str, ...] = ()

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic, *self.extra_topics)

    @cached_property
    def _by_type_name(self) -> dict[str, tuple[type[Event], Handler]]:
        return {model.type_name: (model, handler) for model, handler in self.routes.items()}

    def handler_for(self, type_name: str) -> tuple[type[Event], Handler] | None:
        return self._by_type_name.get(type_name)


def one_per_group(subscriptions: Sequence[Subscription]) -> list[Subscription]:
    """Subscriptions of one purpose (one consumer group) merged into one, on all their topics.

    One Kafka consumer per group rather than one per topic: the members of a group would
    otherwise join one after another, each join a rebalance that pauses all of them, and
    each would poll the broker on its own.
    """
    by_purpose: dict[str, list[Subscription]] = {}
    for subscription in subscriptions:
        by_purpose.setdefault(subscription.purpose, []).append(subscription)
    merged = []
    for purpose, group in by_purpose.items():
        topics = list(dict.fromkeys(t for s in group for t in s.topics))
        routes: dict[type[Event], Handler] = {}
        for subscription in group:
            clash = routes.keys() & subscription.routes.keys()
            if clash:
                names = sorted(m.type_name for m in clash)
                raise ValueError(f"group {purpose!r} routes these types twice: {names}")
            routes.update(subscription.routes)
        merged.append(Subscription(topics[0], purpose, routes, tuple(topics[1:])))
    return merged


class RawRecord(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


class DeadLetter(Exception):
    """A record that will never succeed: the reason is a short code plus a detail.

    Raised by the wrapper (invalid_data, unknown_type) or by a handler (invalid_signature,
    say): the transaction rolls back and the record goes to the DLQ at once, without retries.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class _SliceFailed(Exception):
    """A batch transaction rolled back: `item` is the record whose handler raised, if any."""

    def __init__(self, item: _Parsed | None, tried: str | None, error: Exception) -> None:
        super().__init__(str(error))
        self.item, self.tried, self.error = item, tried, error


class EventConsumer:
    def __init__(
        self,
        subscription: Subscription,
        *,
        db: Database,
        publisher: EventPublisher,
        clock: Clock,
        settings: ServiceSettings,
        group_id: str | None = None,
    ) -> None:
        self.subscription = subscription
        self.db, self.publisher, self.clock, self.settings = db, publisher, clock, settings
        self.group_id = group_id or settings.consumer_group(subscription.purpose)
        self.source = settings.event_source

    def attach(self, broker: KafkaBroker) -> None:
        """Register the FastStream subscriber. Commit only after the records were processed.

        Records come in batches (`process_batch`), except for a subclass that overrides
        `process`: it keeps one-record delivery, so its override sees every record.
        """

        async def keep_raw_bytes(message: Any) -> Any:
            return message.body

        options: dict[str, Any] = {
            "group_id": self.group_id,
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": self.settings.kafka_fetch_max_wait_ms,
            "session_timeout_ms": self.settings.kafka_session_timeout_ms,
            "heartbeat_interval_ms": self.settings.kafka_heartbeat_interval_ms,
            "decoder": keep_raw_bytes,
            "title": f"{self.settings.service_name}:{self.subscription.purpose}",
        }
        if type(self).process is not EventConsumer.process:
            single = broker.subscriber(*self.subscription.topics, **options)

            @single
            async def on_record(_body: Any, message: KafkaMessage) -> None:
                await self.process(message.raw_message)  # type: ignore[arg-type]

            return

        batches = broker.subscriber(
            *self.subscription.topics,
            batch=True,
            max_records=self.settings.consumer_batch_max_records,
            batch_timeout_ms=self.settings.consumer_batch_timeout_ms,
            **options,
        )

        @batches
        async def on_batch(_body: Any, message: KafkaMessage) -> None:
            await self.process_batch(message.raw_message)  # type: ignore[arg-type]

    async def process(self, record: RawRecord) -> Outcome:
        """One record, in its own transaction (retries, then the DLQ)."""
        parsed = await self._parse_record(record)
        if not isinstance(parsed, _Parsed):
            return parsed
        return await self._handle_one(parsed)

    async def process_batch(self, records: Sequence[RawRecord]) -> list[Outcome]:
        """Records in order: unparseable ones to the DLQ, the others in few transactions.

        A transaction takes records until `consumer_batch_slice_ms` of handling has passed,
        then commits and gives the event loop a turn: on SQLite statements run inline and the
        transaction holds the write lock, so an unbounded batch would stall every other task
        of the service (another part's consumer, the webhook dispatcher) for its whole length.

        If a transaction raises (a handler's error or `DeadLetter`, the commit), it rolls back
        and its records and the ones after go through the one-record path, in order; the
        record whose handler raised counts the batch try as its first attempt.
        """
        outcomes: list[Outcome] = []
        work: list[_Parsed] = []
        slots: list[int] = []  # where each item of `work` goes in `outcomes`
        for record in records:
            parsed = await self._parse_record(record)
            if isinstance(parsed, _Parsed):
                slots.append(len(outcomes))
                work.append(parsed)
                outcomes.append("handled")  # set below, once its transaction is done
            else:
                outcomes.append(parsed)
        position = 0
        while position < len(work):
            try:
                results = await self._handle_slice(work[position:])
            except _SliceFailed as failure:
                log.info(
                    "batch of %d records on %s failed (%s); handling them one at a time",
                    len(work) - position,
                    ", ".join(self.subscription.topics),
                    failure.error,
                )
                for slot, item in zip(slots[position:], work[position:], strict=True):
                    tried = failure.tried if item is failure.item else None
                    outcomes[slot] = await self._handle_one(item, tried)
                return outcomes
            done = position + len(results)
            for slot, item, outcome in zip(
                slots[position:done], work[position:done], results, strict=True
            ):
                outcomes[slot] = self._count(item.envelope.type, outcome)
            position = done
            if position < len(work):
                await asyncio.sleep(0)  # the loop's other tasks, between two transactions
        return outcomes

    async def _handle_slice(self, work: Sequence[_Parsed]) -> list[Outcome]:
        """The first records of `work` in one transaction, as many as fit the time slice
        (at least one); their outcomes. Raises `_SliceFailed` after rolling back."""
        budget = self.settings.consumer_batch_slice_ms / 1000
        started = time.perf_counter()
        results: list[Outcome] = []
        failed: _Parsed | None = None
        try:
            async with self.db.transaction() as session:
                seen = await processed_among(
                    session, self.group_id, {item.envelope.id for item in work}
                )
                for item in work:
                    if results and time.perf_counter() - started > budget:
                        break
                    envelope = item.envelope
                    if envelope.id in seen:  # processed before, or earlier in this batch
                        results.append("duplicate")
                        continue
                    seen.add(envelope.id)
                    record_processed(
                        session, self.group_id, envelope.id, envelope.type, self.clock.now()
                    )
                    failed = item
                    await item.handler(
                        item.event, HandlerContext(session, envelope, self.clock, self.source)
                    )
                    failed = None
                    results.append("handled")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            tried = (
                _describe(exc) if failed is not None and not isinstance(exc, DeadLetter) else None
            )
            raise _SliceFailed(failed, tried, exc) from exc
        return results

    async def _parse_record(self, record: RawRecord) -> _Parsed | Outcome:
        """The record's event and handler, or its (counted) outcome: ignored, dead-lettered."""
        type_name = "?"
        try:
            envelope = from_kafka(record.headers or (), record.key, record.value)
            type_name = envelope.type
            event, handler = self._parse(envelope)
            if handler is None:
                return self._count(type_name, "ignored")
            return _Parsed(record, envelope, event, handler)
        except EnvelopeError as exc:
            await self._dead_letter(record, "invalid_envelope", str(exc), attempts=1)
        except DeadLetter as exc:
            await self._dead_letter(record, exc.reason, exc.detail, attempts=1)
        return self._count(type_name, "dead_lettered")

    async def _handle_one(self, item: _Parsed, tried: str | None = None) -> Outcome:
        """The one-record path: own transaction, bounded retries, then the DLQ."""
        record, envelope = item.record, item.envelope
        try:
            outcome = await self._handle_with_retries(
                item.event, envelope, item.handler, tried=tried
            )
            return self._count(envelope.type, outcome)
        except DeadLetter as exc:
            await self._dead_letter(record, exc.reason, exc.detail, attempts=1)
        except _Exhausted as exc:
            await self._dead_letter(record, "handler_failed", exc.detail, attempts=exc.attempts)
        return self._count(envelope.type, "dead_lettered")

    def _parse(self, envelope: CloudEvent) -> tuple[Event | None, Handler | None]:
        spec = spec_for_type(envelope.type)
        if spec is None:
            raise DeadLetter("unknown_type", f"no contract for CloudEvents type {envelope.type!r}")
        route = self.subscription.handler_for(envelope.type)
        if route is None:
            return None, None
        model, handler = route
        try:
            return model.model_validate(envelope.data), handler
        except ValidationError as exc:
            raise DeadLetter("invalid_data", _short_validation(exc)) from exc

    async def _handle_with_retries(
        self,
        event: Event | None,
        envelope: CloudEvent,
        handler: Handler,
        *,
        tried: str | None = None,
    ) -> Outcome:
        """`tried`: the handler already failed once (in a batch) with this error."""
        attempts = self.settings.consumer_max_attempts
        first = 1
        if tried is not None:
            if attempts <= 1:
                raise _Exhausted(1, tried)
            log.info(
                "retrying %s %s after error (attempt 1/%d): %s",
                envelope.type,
                envelope.id,
                attempts,
                tried,
            )
            await asyncio.sleep(self.settings.consumer_retry_backoff_ms / 1000)
            first = 2
        for attempt in range(first, attempts + 1):
            try:
                async with self.db.transaction() as session:
                    if await already_processed(session, self.group_id, envelope.id):
                        return "duplicate"
                    record_processed(
                        session, self.group_id, envelope.id, envelope.type, self.clock.now()
                    )
                    await handler(event, HandlerContext(session, envelope, self.clock, self.source))
                return "handled"
            except (asyncio.CancelledError, DeadLetter):
                raise  # a handler's DeadLetter will never succeed: no retry, its own reason
            except Exception as exc:
                if attempt == attempts:
                    raise _Exhausted(attempts, _describe(exc)) from exc
                log.info(
                    "retrying %s %s after error (attempt %d/%d): %s",
                    envelope.type,
                    envelope.id,
                    attempt,
                    attempts,
                    exc,
                )
                await asyncio.sleep(
                    self.settings.consumer_retry_backoff_ms / 1000 * 2 ** (attempt - 1)
                )
        raise AssertionError("unreachable")

    async def _dead_letter(
        self, record: RawRecord, reason: str, detail: str, attempts: int
    ) -> None:
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")]
        headers += [
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-error", detail[:2000].encode()),
            ("x-dlq-topic", record.topic.encode()),
            ("x-dlq-partition", str(record.partition).encode()),
            ("x-dlq-offset", str(record.offset).encode()),
            ("x-dlq-consumer", self.group_id.encode()),
            ("x-dlq-attempts", str(attempts).encode()),
            ("x-dlq-time", self.clock.now().astimezone(UTC).isoformat().encode()),
        ]
        await self.publisher.publish_raw(dlq_topic(record.topic), record.value, record.key, headers)
        DEAD_LETTERS.labels(record.topic, reason).inc()
        log.warning(
            "dead-lettered %s[%d]@%d to %s: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            dlq_topic(record.topic),
            reason,
            detail[:200],
        )

    def _count(self, type_name: str, outcome: Outcome) -> Outcome:
        EVENTS_CONSUMED.labels(self.group_id, type_name, outcome).inc()
        return outcome


@dataclass(frozen=True)
class _Parsed:
    record: RawRecord
    envelope: CloudEvent
    event: Event | None
    handler: Handler


class _Exhausted(Exception):
    def __init__(self, attempts: int, detail: str) -> None:
        super().__init__(detail)
        self.attempts, self.detail = attempts, detail


def _short_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
