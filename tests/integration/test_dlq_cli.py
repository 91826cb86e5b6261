"""Dead letters on a real broker: list them with their reason, replay them to the source topic."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from contracts.topics import dlq_topic
from services.kit.dlq import dlq_router, list_dead_letters, read_to_end, replay_dead_letters
from services.kit.messaging import ensure_topics

BAD_VALUE = b'{"project_id": 42, "stage":'  # truncated JSON: the consumer dead-letters it
CE_HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"evt-poison-1"),
    ("ce_source", b"/relais/referral"),
    ("ce_type", b"fr.relais.referral.sent.v1"),
    ("ce_time", b"2026-01-05T09:00:00Z"),
    ("content-type", b"application/json"),
]


def dlq_headers(source: str) -> list[tuple[str, bytes]]:
    """Exactly the headers services.kit.consumer.EventConsumer._dead_letter appends."""
    return [
        ("x-dlq-reason", b"invalid_envelope"),
        ("x-dlq-error", b"value is not valid JSON: Expecting value: line 1 column 28"),
        ("x-dlq-topic", source.encode()),
        ("x-dlq-partition", b"0"),
        ("x-dlq-offset", b"7"),
        ("x-dlq-consumer", b"relais.notify.referrals"),
        ("x-dlq-attempts", b"1"),
        ("x-dlq-time", b"2026-01-05T09:00:01+00:00"),
    ]


@pytest.fixture
async def poisoned(kafka_bootstrap: str, unique_name: Callable[..., str]) -> str:
    """A fresh source topic whose .dlq holds one dead letter; returns the source topic."""
    source = unique_name("dlqcli")
    await ensure_topics(kafka_bootstrap, [source, dlq_topic(source)], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            dlq_topic(source),
            value=BAD_VALUE,
            key=b"prj-1",
            headers=CE_HEADERS + dlq_headers(source),
        )
    finally:
        await producer.stop()
    return source


async def test_list_shows_reason_and_origin(kafka_bootstrap: str, poisoned: str) -> None:
    records = await list_dead_letters(kafka_bootstrap, [dlq_topic(poisoned)])
    assert len(records) == 1
    letter = records[0]
    assert (letter.topic, letter.partition, letter.offset) == (dlq_topic(poisoned), 0, 0)
    assert letter.reason == "invalid_envelope"
    assert letter.error and "not valid JSON" in letter.error
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        poisoned,
        0,
        7,
    )
    assert letter.consumer == "relais.notify.referrals"
    assert letter.attempts == 1
    assert letter.ce_type == "fr.relais.referral.sent.v1" and letter.ce_id == "evt-poison-1"
    assert letter.key == "prj-1"
    assert letter.value_excerpt == BAD_VALUE.decode()
    # The source topic's name is accepted too, and a missing DLQ is simply empty.
    assert len(await list_dead_letters(kafka_bootstrap, [poisoned])) == 1
    assert await list_dead_letters(kafka_bootstrap, [poisoned + "-nope"]) == []


async def test_replay_puts_original_record_back(kafka_bootstrap: str, poisoned: str) -> None:
    assert await replay_dead_letters(kafka_bootstrap, dlq_topic(poisoned), ["0:0"]) == 1
    back = await read_to_end(kafka_bootstrap, [poisoned])
    assert len(back) == 1
    record = back[0]
    assert record.value == BAD_VALUE
    assert record.key == b"prj-1"
    assert list(record.headers) == CE_HEADERS  # original headers, in order, no x-dlq-*
    # Listing does not consume: the dead letter is still there for another look.
    assert len(await list_dead_letters(kafka_bootstrap, [dlq_topic(poisoned)])) == 1


async def test_replay_unknown_offset_is_an_error(kafka_bootstrap: str, poisoned: str) -> None:
    with pytest.raises(LookupError):
        await replay_dead_letters(kafka_bootstrap, dlq_topic(poisoned), [5])
    with pytest.raises(ValueError):
        await replay_dead_letters(kafka_bootstrap, poisoned, None)  # not a .dlq topic
    assert await read_to_end(kafka_bootstrap, [poisoned]) == []


async def test_router_lists_and_replays(kafka_bootstrap: str, poisoned: str) -> None:
    app = FastAPI()
    app.include_router(dlq_router(lambda: kafka_bootstrap))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dlq") as client:
        listed = await client.get("/v1/dlq", params={"topic": poisoned})
        assert listed.status_code == 200
        assert [r["reason"] for r in listed.json()] == ["invalid_envelope"]
        missing = await client.post("/v1/dlq/replay", json={"topic": poisoned, "offsets": [3]})
        assert missing.status_code == 404
        replayed = await client.post("/v1/dlq/replay", json={"topic": poisoned, "offsets": None})
        assert replayed.status_code == 200
        assert replayed.json() == {"topic": dlq_topic(poisoned), "replayed": 1}
    assert len(await read_to_end(kafka_bootstrap, [poisoned])) == 1
