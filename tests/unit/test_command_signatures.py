"""Signed member commands: the canonical form, signing and verifying, freshness, and a handler's
DeadLetter going straight to the DLQ (the consumer wrapper, with a fake publisher).

The known-answer vector below is the one printed in docs/commands.md: a member developer in
any language checks their implementation against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import from_kafka, to_kafka
from contracts.events.commands import (
    COMMANDS,
    AcceptReferral,
    AssignReferral,
    CompleteReferral,
    DeclineReferral,
    StartReferral,
)
from contracts.registry import spec_for_model
from services.kit.clock import ManualClock
from services.kit.consumer import DeadLetter, EventConsumer, HandlerContext, Subscription
from services.kit.db import Database
from services.kit.inbox import InboxRecord
from services.kit.outbox import OutboxRecord
from services.kit.settings import ServiceSettings
from services.referral.command_client import new_command, sign_command
from services.referral.commands import signing
from services.referral.commands.handler import check_envelope, check_fresh

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DECLINE = "fr.relais.referral.command.decline.v1"

# Known-answer vector (docs/commands.md): private key = bytes 0..31.
VECTOR_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VECTOR_PUBLIC = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
VECTOR_DATA: dict[str, Any] = {
    "command_id": "cmd_0001",
    "issued_at": "2026-03-02T09:30:00.000Z",
    "member_id": "mbr_lille",
    "project_id": "prj_demo",
    "referral_id": "ref_demo",
    "reason": "capacite_atteinte",
    "signature": "",
}
VECTOR_INPUT = (
    DECLINE + "\n"
    '{"command_id":"cmd_0001","issued_at":"2026-03-02T09:30:00.000Z","member_id":"mbr_lille",'
    '"project_id":"prj_demo","reason":"capacite_atteinte","referral_id":"ref_demo"}'
).encode()
VECTOR_SIGNATURE = (
    "lfrVqqM2GLty0AJW1zSMWxdEF35FBoR1VrxsoCFTqAxGmPVFwTm63HiBCqd0Xo50X4ag9YwsnqKYJ8J0LtOBAg"
)


def keys_of(*private: Ed25519PrivateKey) -> dict[str, str]:
    return {f"key_{i}": signing.public_key_text(k) for i, k in enumerate(private)}


# --- the canonical form -------------------------------------------------------------------


def test_known_answer_vector() -> None:
    assert signing.public_key_text(VECTOR_KEY) == VECTOR_PUBLIC
    assert signing.signing_input(DECLINE, VECTOR_DATA) == VECTOR_INPUT
    assert signing.sign(VECTOR_KEY, DECLINE, VECTOR_DATA) == VECTOR_SIGNATURE
    signed = {**VECTOR_DATA, "signature": VECTOR_SIGNATURE}
    assert signing.verify({"k": VECTOR_PUBLIC}, DECLINE, signed, VECTOR_SIGNATURE) == "k"


def test_canonical_form_is_stable() -> None:
    shuffled = dict(reversed(list(VECTOR_DATA.items())))
    assert signing.canonical_json(shuffled) == signing.canonical_json(VECTOR_DATA)
    # The signature member, whatever it holds, is not part of what is signed.
    other = {**VECTOR_DATA, "signature": "anything"}
    assert signing.canonical_json(other) == signing.canonical_json(VECTOR_DATA)
    without = {k: v for k, v in VECTOR_DATA.items() if k != "signature"}
    assert signing.canonical_json(without) == signing.canonical_json(VECTOR_DATA)
    assert b" " not in signing.canonical_json(VECTOR_DATA)
    assert signing.canonical_json({"a": "été"}) == '{"a":"été"}'.encode()  # UTF-8, not \u
    # JSON escapes what it must, with the short forms (as RFC 8785 does).
    assert signing.canonical_json({"a": 'x"\\\n\t\x01'}) == b'{"a":"x\\"\\\\\\n\\t\\u0001"}'
    # Null optional members are signed as null: omitting them is a different body.
    assert signing.canonical_json({"a": None}) == b'{"a":null}'
    assert signing.canonical_json({"a": None}) != signing.canonical_json({})


def test_canonical_form_refuses_what_json_cannot_say() -> None:
    with pytest.raises(signing.SignatureError):
        signing.canonical_json({"a": float("nan")})
    with pytest.raises(signing.SignatureError):
        signing.signing_input("two\nlines", {})


# --- signing and verifying ----------------------------------------------------------------


def test_sign_command_then_verify_through_the_wire() -> None:
    key = Ed25519PrivateKey.generate()
    command = new_command(
        CompleteReferral,
        member_id="mbr_lille",
        project_id="prj_1",
        referral_id="ref_1",
        issued_at=NOW,
        outcome="financement_obtenu",
        funding_amount_eur=15000,
    )
    event = sign_command(key, command)
    assert event.id == command.command_id
    assert event.key == "prj_1" and event.subject == "ref_1"
    assert event.type == "fr.relais.referral.command.complete.v1"
    assert event.data["issued_at"] == "2026-03-02T09:30:00.000Z"
    assert event.data["jobs_created"] is None  # optional members travel, as null

    received = from_kafka(*reversed(_split(to_kafka(event))))
    parsed = CompleteReferral.model_validate(received.data)
    assert signing.verify(keys_of(key), received.type, received.data, parsed.signature) == "key_0"
    check_envelope(parsed, received)


def _split(record: tuple[bytes | None, bytes, Any]) -> tuple[bytes, bytes | None, Any]:
    key, value, headers = record
    return value, key, headers  # reversed: from_kafka(headers, key, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("referral_id", "ref_other"),
        ("reason", "hors_territoire"),
        ("project_id", "prj_other"),
        ("reason", None),
        ("issued_at", "2026-03-02T09:31:00.000Z"),
        ("member_id", "mbr_amiens"),
        ("extra", "added after signing"),
    ],
)
def test_a_tampered_field_fails(field: str, value: Any) -> None:
    signed = {**VECTOR_DATA, "signature": VECTOR_SIGNATURE, field: value}
    with pytest.raises(signing.SignatureError, match="does not verify"):
        signing.verify({"k": VECTOR_PUBLIC}, DECLINE, signed, VECTOR_SIGNATURE)


def test_a_signature_does_not_move_to_another_command_type() -> None:
    with pytest.raises(signing.SignatureError, match="does not verify"):
        signing.verify(
            {"k": VECTOR_PUBLIC},
            "fr.relais.referral.command.accept.v1",
            VECTOR_DATA,
            VECTOR_SIGNATURE,
        )


def test_the_wrong_key_fails_and_any_active_key_may_sign() -> None:
    mine, theirs, rotated = (Ed25519PrivateKey.generate() for _ in range(3))
    event = sign_command(
        mine,
        new_command(AcceptReferral, member_id="m", project_id="p", referral_id="r", issued_at=NOW),
    )
    signature = event.data["signature"]
    with pytest.raises(signing.SignatureError, match="1 active key"):
        signing.verify(keys_of(theirs), event.type, event.data, signature)
    # During a rotation the member has two keys: either verifies.
    assert signing.verify(
        {"old": signing.public_key_text(rotated), "new": signing.public_key_text(mine)},
        event.type,
        event.data,
        signature,
    ) == ("new")
    with pytest.raises(signing.SignatureError, match="no registered"):
        signing.verify({}, event.type, event.data, signature)


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        ("", "0 bytes"),
        ("not base64!", "base64url"),
        ("YWJj", "3 bytes"),
        (VECTOR_SIGNATURE[:-2] + "+A", "base64url"),
    ],
)
def test_malformed_signatures_say_why(signature: str, why: str) -> None:
    with pytest.raises(signing.SignatureError, match=why):
        signing.verify({"k": VECTOR_PUBLIC}, DECLINE, VECTOR_DATA, signature)


def test_every_command_is_a_signed_draft_of_issue_4_keyed_by_project() -> None:
    assert len(COMMANDS) == 11
    for model in COMMANDS:
        spec = spec_for_model(model)
        assert spec.stability == "draft" and spec.owner == "referral (issue 4)"
        assert spec.topic == "referral.commands" and model.key_field == "project_id"
        assert {"command_id", "issued_at", "member_id", "signature"} <= set(model.model_fields)
    assert "adviser_user_id" in AssignReferral.model_fields
    assert "reason" in DeclineReferral.model_fields
    # No free text in the Kafka log: messages about a porteur go through the HTTP API.
    assert not any("message" in model.model_fields for model in COMMANDS)


# --- envelope and freshness ---------------------------------------------------------------


def test_the_record_id_must_be_the_command_id() -> None:
    key = Ed25519PrivateKey.generate()
    command = new_command(StartReferral, member_id="m", project_id="p", referral_id="r")
    event = sign_command(key, command).model_copy(update={"id": "something-else"})
    with pytest.raises(DeadLetter) as caught:
        check_envelope(command, event)
    assert caught.value.reason == "invalid_envelope"


def test_freshness_window() -> None:
    window = timedelta(minutes=15)
    assert check_fresh("2026-03-02T09:44:59Z", NOW, window) == NOW + timedelta(
        minutes=14, seconds=59
    )
    assert check_fresh("2026-03-02T10:15:00+01:00", NOW, window) == NOW - timedelta(minutes=15)
    for stale in ("2026-03-02T09:14:59Z", "2026-03-02T09:45:01Z", "2026-03-01T09:30:00Z"):
        with pytest.raises(DeadLetter) as caught:
            check_fresh(stale, NOW, window)
        assert caught.value.reason == "stale_command"
    for bad in ("2026-03-02T09:30:00", "yesterday"):
        with pytest.raises(DeadLetter) as caught:
            check_fresh(bad, NOW, window)
        assert caught.value.reason == "invalid_data"


# --- a handler's DeadLetter: straight to the DLQ, its own reason, nothing written ----------


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


class FakePublisher:
    def __init__(self) -> None:
        self.raw: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def publish_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Any
    ) -> None:
        self.raw.append((topic, value, key, list(headers)))


async def test_a_handler_dead_letter_is_not_retried(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/c.db", [InboxRecord, OutboxRecord])
    await db.create_all()
    calls = 0

    async def refuse(command: AcceptReferral, ctx: HandlerContext) -> None:
        nonlocal calls
        calls += 1
        raise DeadLetter("invalid_signature", "signature does not verify")

    publisher = FakePublisher()
    consumer = EventConsumer(
        Subscription("referral.commands", "member-commands", {AcceptReferral: refuse}),
        db=db,
        publisher=publisher,  # type: ignore[arg-type]
        clock=ManualClock(NOW),
        settings=ServiceSettings(service_name="t", var_dir=tmp_path, consumer_retry_backoff_ms=1),
    )
    event = sign_command(
        Ed25519PrivateKey.generate(),
        new_command(AcceptReferral, member_id="m", project_id="p", referral_id="r"),
    )
    key, value, headers = to_kafka(event)
    try:
        outcome = await consumer.process(FakeRecord("referral.commands", 0, 7, key, value, headers))
        assert outcome == "dead_lettered" and calls == 1
        [(topic, dlq_value, _, dlq_headers)] = publisher.raw
        found = dict(dlq_headers)
        assert topic == "referral.commands.dlq" and dlq_value == value
        assert found["x-dlq-reason"] == b"invalid_signature"
        assert found["x-dlq-attempts"] == b"1"
        async with db.session() as session:
            assert await session.get(InboxRecord, (consumer.group_id, event.id)) is None
    finally:
        await db.dispose()
