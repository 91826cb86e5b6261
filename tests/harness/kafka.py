"""Reading a topic back from the broker, as a test's independent witness."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 20
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` (no consumer group), once there are at least `at_least`,
    read up to the end offsets so that extra records would show too."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while True:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            if len(records) >= at_least:
                end = await consumer.end_offsets(partitions)
                positions = [await consumer.position(tp) for tp in partitions]
                if all(pos >= end[tp] for pos, tp in zip(positions, partitions, strict=True)):
                    return sorted(records, key=lambda r: (r.partition, r.offset))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(records)} records, wanted {at_least}")
    finally:
        await consumer.stop()
