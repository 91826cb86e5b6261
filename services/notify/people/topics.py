"""Per-member feed topics (`member.<id>.feed`, one partition) are created before the first
record goes to them: production brokers do not auto-create topics, and the outbox relay
publishes in order, so a record stuck on a missing topic would hold back every later one."""

from __future__ import annotations

import asyncio

from contracts.topics import dlq_topic
from services.kit.messaging import ensure_topics


class FeedTopics:
    def __init__(self, bootstrap: str, *, enabled: bool = True, partitions: int = 1) -> None:
        self.bootstrap, self.enabled, self.partitions = bootstrap, enabled, partitions
        self._known: set[str] = set()
        self._lock: asyncio.Lock | None = None

    async def ensure(self, topic: str) -> None:
        """Create the topic (and its `.dlq`) unless this process already made sure of it."""
        if not self.enabled or topic in self._known:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if topic in self._known:
                return
            await ensure_topics(
                self.bootstrap,
                [topic, dlq_topic(topic)],
                partitions=self.partitions,
                one_partition=[topic] if self.partitions == 1 else (),
            )
            self._known.add(topic)
