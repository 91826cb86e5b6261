"""What the services put on Kafka is readable by the official CloudEvents SDK (DESIGN.md rule 3).

The in-process stack registers two members and sends one referral; a raw consumer (no group)
reads `directory.events` and `referral.events` from the beginning and every record about
those ids goes through `cloudevents.kafka.from_binary`, then through the registry model of
its type. The topics are shared by the session's other tests, so records are picked by key.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from contracts.events.directory import MemberRegistered
from contracts.events.referral import ReferralSent
from contracts.registry import spec_for_type
from contracts.topics import DIRECTORY_EVENTS, REFERRAL_EVENTS
from tests.harness.stack import orient, register, running_stack, token_for, wait_until

try:  # cloudevents 1.x
    from cloudevents.kafka import KafkaMessage, from_binary
except ImportError:  # cloudevents 2.x keeps the 1.x API under cloudevents.v1
    from cloudevents.v1.kafka import KafkaMessage, from_binary

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
REQUIRED_HEADERS = {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"}
Record: TypeAlias = ConsumerRecord[bytes, bytes]


async def read_until(
    bootstrap: str, topics: list[str], done: Callable[[list[Record]], bool], timeout: float = 30
) -> list[Record]:
    """Every record of `topics` from the beginning, until `done(records)` holds."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    records: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                seen = [(r.topic, r.key, ce_type(r)) for r in records]
                raise TimeoutError(f"records not all seen in {timeout}s; read: {seen[-20:]}")
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def ce_type(record: Record) -> str:
    return (dict(record.headers or ()).get("ce_type") or b"").decode("utf-8", errors="replace")


def sdk_event(record: Record) -> Any:
    headers = dict(record.headers)
    assert len(headers) == len(record.headers), f"duplicate headers in {record.headers}"
    return from_binary(KafkaMessage(headers=headers, key=record.key, value=record.value))


def check_contract(record: Record, service: str, aggregate_id: str) -> Any:
    """Convert with the SDK and check it against the contract; returns the typed payload."""
    event = sdk_event(record)
    where = f"{record.topic}@{record.partition}:{record.offset}"
    names = {name for name, _ in record.headers}
    assert REQUIRED_HEADERS <= names, (where, sorted(names))
    assert event["specversion"] == "1.0", where
    assert event["source"] == f"/relais/{service}", where
    assert event["id"], where
    assert event["datacontenttype"] == "application/json", where
    assert RFC3339_UTC.match(event["time"]), (where, event["time"])
    datetime.fromisoformat(event["time"])
    spec = spec_for_type(event["type"])
    assert spec is not None, f"{where}: type {event['type']!r} is not in contracts.registry"
    assert spec.topic == record.topic, f"{where}: {event['type']} belongs on {spec.topic}"
    payload = spec.model.model_validate(event.get_data())
    assert record.key == aggregate_id.encode(), where
    assert payload.record_key() == aggregate_id, where
    assert event.get("subject") == payload.subject(), where
    assert event.get("partitionkey") == record.key, where  # the SDK exposes the key
    return payload


def pick(
    records: list[Record], members: dict[bytes, str], project_id: str
) -> tuple[list[Record], list[Record]]:
    """This test's records: directory ones keyed by its members, referral ones by its project."""
    directory = [r for r in records if r.topic == DIRECTORY_EVENTS.name and r.key in members]
    referral = [
        r for r in records if r.topic == REFERRAL_EVENTS.name and r.key == project_id.encode()
    ]
    return directory, referral


async def test_records_are_cloudevents_the_sdk_reads(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("sdk"),
            webhook_url=None,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        sender, sender_key = await register(client, stack, "Coopérative d'Amiens")
        receiver, _ = await register(client, stack, "Incubateur de Lille")
        auth = {"Authorization": f"Bearer {await token_for(client, stack, sender_key)}"}

        async def receiver_known() -> bool:
            from services.referral.models import KnownMember

            async with stack.runtime("referral").db.session() as session:
                return await session.get(KnownMember, receiver) is not None

        await wait_until(receiver_known, what="referral's copy of the directory")
        created = await orient(
            client, stack.url("referral"), auth, receiver, themes=["alimentation"]
        )
        assert created.status_code == 201, created.text
        referral_id, project_id = created.json()["id"], created.json()["project_id"]
        members = {sender.encode(): sender, receiver.encode(): receiver}

        def seen_all(records: list[Record]) -> bool:
            directory, referral = pick(records, members, project_id)
            registered = {r.key for r in directory if ce_type(r) == MemberRegistered.type_name}
            sent = any(ce_type(r) == ReferralSent.type_name for r in referral)
            return registered == set(members) and sent

        # Read while the stack runs: its outbox relays publish after the HTTP responses.
        records = await asyncio.wait_for(
            read_until(kafka_bootstrap, [DIRECTORY_EVENTS.name, REFERRAL_EVENTS.name], seen_all),
            timeout=60,
        )

    directory, referral = pick(records, members, project_id)
    ids = [sdk_event(r)["id"] for r in directory + referral]
    assert len(ids) == len(set(ids)), f"ce_id reused: {ids}"

    registered = {}
    for record in directory:
        payload = check_contract(record, "directory", members[record.key])
        if isinstance(payload, MemberRegistered):
            registered[payload.member_id] = payload
    assert registered[sender].name == "Coopérative d'Amiens"
    assert registered[receiver].name == "Incubateur de Lille"
    assert registered[sender].network_ids == ["tremplin"]

    sent = []
    for record in referral:
        payload = check_contract(record, "referral", project_id)
        if isinstance(payload, ReferralSent):
            sent.append(payload)
    assert [(s.referral_id, s.sender_member_id, s.receiver_member_id) for s in sent] == [
        (referral_id, sender, receiver)
    ]
    assert sent[0].stage == "creation" and sent[0].commune == "80021"
    assert sent[0].themes == ["alimentation"]
