"""Signing and sending member commands: for member developers (a reference) and for tests.

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from contracts.events.commands import AcceptReferral
    from services.referral.command_client import new_command, send_command, sign_command

    key = Ed25519PrivateKey.generate()   # register public_key_text(key) in the directory once
    command = new_command(AcceptReferral, member_id="mbr_x", project_id="prj_y",
                          referral_id="ref_z")
    await send_command("localhost:9092", sign_command(key, command))

The scheme is in services/referral/commands/signing.py and docs/commands.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import CloudEvent, to_kafka
from contracts.events.commands import TOPIC, ReferralCommand
from services.referral.commands.signing import (
    SIGNATURE_FIELD,
    format_issued_at,
    parse_issued_at,
    public_key_text,
    sign,
)

C = TypeVar("C", bound=ReferralCommand)

__all__ = ["new_command", "public_key_text", "send_command", "sign_command"]


def new_command(
    model: type[C],
    *,
    member_id: str,
    project_id: str,
    referral_id: str,
    command_id: str | None = None,
    issued_at: datetime | None = None,
    **fields: Any,
) -> C:
    """A command with a fresh id and issue time (now, UTC), not signed yet."""
    return model(
        command_id=command_id or f"cmd_{uuid.uuid4().hex}",
        issued_at=format_issued_at(issued_at or datetime.now(UTC)),
        member_id=member_id,
        project_id=project_id,
        referral_id=referral_id,
        signature="",
        **fields,
    )


def sign_command(
    private_key: Ed25519PrivateKey, command: ReferralCommand, *, source: str | None = None
) -> CloudEvent:
    """The signed CloudEvent of `command`: `ce_id` = command id, key = project id, subject =
    referral id, data = every field of the command with `signature` set (any value the model
    held is replaced)."""
    data = command.model_dump(mode="json")
    data.pop(SIGNATURE_FIELD, None)
    data[SIGNATURE_FIELD] = sign(private_key, command.type_name, data)
    return CloudEvent(
        id=command.command_id,
        source=source or f"/members/{command.member_id}/tools",
        type=command.type_name,
        time=parse_issued_at(command.issued_at),
        subject=command.subject(),
        data=data,
        key=command.record_key(),
    )


async def send_command(bootstrap: str, command: CloudEvent, *, topic: str = TOPIC) -> None:
    """Produce one signed command as a binary-mode CloudEvent record, and wait for the ack."""
    key, value, headers = to_kafka(command)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()
