"""The harness itself works: broker, embedded broker control, PostgreSQL, database_url."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.embedded import EmbeddedBroker, PortInUseError, free_port


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def consume_one(bootstrap: str, topic: str, group: str) -> bytes | None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,  # the default 500 ms would dominate small tests
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=20)
        return record.value
    finally:
        await consumer.stop()


async def test_broker_round_trips_a_record(
    kafka_bootstrap: str, unique_name: Callable[..., str]
) -> None:
    topic, group = unique_name("harness"), unique_name("group")
    assert topic != unique_name("harness")
    await create_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello")
    finally:
        await producer.stop()
    assert await consume_one(kafka_bootstrap, topic, group) == b"hello"


async def test_embedded_broker_refuses_a_taken_port() -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        broker = EmbeddedBroker(port=port)
        with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
            await broker.start()
        assert broker.pid is None  # refused before spawning anything


async def test_send_during_pause_completes_after_resume(
    embedded_broker: EmbeddedBroker, unique_name: Callable[..., str]
) -> None:
    bootstrap = embedded_broker.bootstrap
    topic = unique_name("paused")
    await create_topic(bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"warm-up")  # connection + metadata in place
        embedded_broker.pause()
        try:
            send = asyncio.ensure_future(producer.send_and_wait(topic, b"during-pause"))
            await asyncio.sleep(1.0)
            assert not send.done(), "a frozen broker must not acknowledge anything"
        finally:
            embedded_broker.resume()
        metadata = await asyncio.wait_for(send, timeout=20)
        assert metadata.offset == 1
    finally:
        await producer.stop()


async def test_postgres_fixture_gives_a_usable_database(fresh_postgres_url: str) -> None:
    engine = create_async_engine(fresh_postgres_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version()"))).scalar_one()
            current = (await conn.execute(text("SELECT current_database()"))).scalar_one()
    finally:
        await engine.dispose()
    assert version.startswith("PostgreSQL")
    assert current == make_url(fresh_postgres_url).database


async def test_database_url_works_with_sqlalchemy_async(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            await conn.execute(text("INSERT INTO t (id, name) VALUES (1, 'relais')"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT name FROM t"))).scalar_one() == "relais"
    finally:
        await engine.dispose()
