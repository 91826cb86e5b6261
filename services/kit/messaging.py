"""Kafka plumbing the kit owns: the event publisher, the broker factory, topic admin.

The publisher writes records exactly as contracts.envelope says (binary CloudEvents); it is
a plain aiokafka producer without idempotence (Tansu refuses InitProducerId), so delivery is
at-least-once and consumers deduplicate with their inbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from contracts.envelope import CloudEvent, Headers, to_kafka
from contracts.topics import TOPICS, dlq_topic
from services.kit.settings import ServiceSettings

log = logging.getLogger("relais.messaging")


class EventPublisher:
    """Publishes CloudEvents and raw records (dead letters) to Kafka."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers, self.client_id = bootstrap_servers, client_id
        self._producer: AIOKafkaProducer | None = None
        self.started = False

    async def start(self) -> None:
        # aiokafka binds to the running loop, so the producer is built here, not in __init__.
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=False,
                acks="all",
                linger_ms=1,
                request_timeout_ms=10_000,
            )
        try:
            await self._producer.start()
        except Exception:
            await self._producer.stop()
            self._producer = None
            raise
        self.started = True

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self.started = False

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None or not self.started:
            raise ConnectionError("Kafka producer not connected yet")
        return self._producer

    async def enqueue(self, event: CloudEvent, topic: str) -> asyncio.Future[Any]:
        key, value, headers = to_kafka(event)
        return await self.producer.send(topic, value=value, key=key, headers=headers)

    async def publish(self, event: CloudEvent, topic: str) -> None:
        await (await self.enqueue(event, topic))

    async def publish_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        await self.producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def ping(self) -> None:
        """Raise when no broker answers (metadata refresh)."""
        client = self.producer.client
        await asyncio.wait_for(client.force_metadata_update(), timeout=3)
        if not client.cluster.brokers():
            raise ConnectionError("no Kafka broker in metadata")


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """The FastStream broker that runs a service's subscribers (built in create_app only)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"relais-{settings.service_name}",
        enable_idempotence=False,
        # FastStream logs every message at INFO; a business line per event is ours to write.
        log_level=logging.DEBUG,
        logger=logging.getLogger(f"relais.{settings.service_name}.faststream"),
    )


def all_topic_names(extra: Iterable[str] = ()) -> list[str]:
    names = [t.name for t in TOPICS] + list(extra)
    return names + [dlq_topic(n) for n in names]


async def ensure_topics(
    bootstrap_servers: str,
    names: Sequence[str],
    partitions: int = 6,
    one_partition: Iterable[str] = (),
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    single = set(one_partition)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, 1 if name in single else partitions, 1)
            for name in names
            if name not in existing
        ]
        if not wanted:
            return []
        try:
            await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            pass
        return [t.name for t in wanted]
    finally:
        await admin.close()
