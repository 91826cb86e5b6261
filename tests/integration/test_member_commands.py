"""Member tools over Kafka: signed commands on `referral.commands`, with the real broker and the
four services in process (issue 4, item 6).

Must hold: a command sent twice acts once; a command whose signature does not verify lands in
`referral.commands.dlq` with its reason and changes nothing; a command refused for a business
reason gives a `command_rejected` event (reason included) on `referral.events`.

`referral.commands` and its DLQ are shared by the session's tests (and a new stack's consumer
group reads the topic from the start), so every check looks for this test's own ids.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from contracts.envelope import CloudEvent, from_kafka
from contracts.events import commands as c
from contracts.topics import REFERRAL_COMMANDS, REFERRAL_EVENTS, dlq_topic
from services.kit.consumer import DeadLetter, HandlerContext
from services.kit.messaging import ensure_topics
from services.referral.command_client import new_command, send_command, sign_command
from services.referral.commands import CommandHandler, MemberCommand
from services.referral.commands.signing import public_key_text
from services.referral.models import CommandKeyCopy, KnownMember
from tests.harness.kafka import read_topic
from tests.harness.stack import (
    ADMIN_KEY,
    Stack,
    orient,
    register,
    running_stack,
    token_for,
    wait_until,
)

ACCEPTED = "fr.relais.referral.accepted.v1"
REJECTED = "fr.relais.referral.command_rejected.v1"
DLQ = dlq_topic(REFERRAL_COMMANDS.name)


async def register_command_key(
    client: httpx.AsyncClient, stack: Stack, member_id: str, key: Ed25519PrivateKey
) -> str:
    response = await client.post(
        stack.url("directory") + "/v1/command-keys",
        params={"member_id": member_id},
        json={"label": "crm", "public_key": public_key_text(key)},
        headers={"X-Admin-Key": ADMIN_KEY},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def referral_knows(stack: Stack, member_ids: list[str], key_ids: list[str]) -> bool:
    async with stack.runtime("referral").db.session() as session:
        for member_id in member_ids:
            if await session.get(KnownMember, member_id) is None:
                return False
        for key_id in key_ids:
            if await session.get(CommandKeyCopy, key_id) is None:
                return False
    return True


async def commands_recorded(stack: Stack, command_ids: list[str]) -> dict[str, MemberCommand]:
    async with stack.runtime("referral").db.session() as session:
        rows = await session.exec(
            select(MemberCommand).where(MemberCommand.command_id.in_(command_ids))  # type: ignore[attr-defined]
        )
        return {row.command_id: row for row in rows.all()}


async def events_of(bootstrap: str, referral_id: str, project_id: str) -> list[CloudEvent]:
    records = await read_topic(bootstrap, REFERRAL_EVENTS.name, at_least=1)
    events = [from_kafka(r.headers, r.key, r.value) for r in records]
    return [
        e
        for e in events
        if e.data.get("referral_id") == referral_id
        or (e.type == REJECTED and e.data.get("project_id") == project_id)
    ]


async def dead_letters(bootstrap: str, command_ids: set[str]) -> dict[str, dict[str, str]]:
    """ce_id -> the x-dlq-* headers, for the dead letters of these commands."""
    records = await read_topic(bootstrap, DLQ, at_least=1)
    found: dict[str, dict[str, str]] = {}
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        if headers.get("ce_id") in command_ids:
            found[headers["ce_id"]] = {k: v for k, v in headers.items() if k.startswith("x-dlq")}
    return found


async def test_signed_commands_act_once_refuse_politely_and_dead_letter_forgeries(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    await ensure_topics(kafka_bootstrap, [REFERRAL_COMMANDS.name, DLQ])
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("cmds"),
            webhook_url=None,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        sender, sender_api_key = await register(client, stack, "Coopérative d'Amiens")
        receiver, receiver_api_key = await register(client, stack, "Incubateur de Lille")
        receiver_key, sender_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        key_ids = [
            await register_command_key(client, stack, receiver, receiver_key),
            await register_command_key(client, stack, sender, sender_key),
        ]
        await wait_until(
            lambda: referral_knows(stack, [sender, receiver], key_ids),
            what="referral's copy of the members and their command keys",
        )
        sender_auth = {"Authorization": f"Bearer {await token_for(client, stack, sender_api_key)}"}
        receiver_auth = {
            "Authorization": f"Bearer {await token_for(client, stack, receiver_api_key)}"
        }
        created = await orient(client, stack.url("referral"), sender_auth, receiver)
        assert created.status_code == 201, created.text
        referral_id, project_id = created.json()["id"], created.json()["project_id"]
        ids = {"project_id": project_id, "referral_id": referral_id}

        async def state() -> dict[str, Any]:
            response = await client.get(
                stack.url("referral") + f"/v1/referrals/{referral_id}", headers=receiver_auth
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        before = await state()
        assert before["status"] == "sent"

        def command(model: type[c.ReferralCommand], member: str, **fields: Any) -> Any:
            return new_command(model, member_id=member, **ids, **fields)

        # 1. Refused for business reasons: start before accept; the sender accepting.
        start_early = sign_command(receiver_key, command(c.StartReferral, receiver))
        sender_accepts = sign_command(sender_key, command(c.AcceptReferral, sender))
        for event in (start_early, sender_accepts):
            await send_command(kafka_bootstrap, event)
        refused = [start_early.id, sender_accepts.id]
        recorded = await wait_until(
            lambda: _all(commands_recorded(stack, refused), len(refused)),
            what="the refused commands recorded",
        )
        assert {row.outcome for row in recorded.values()} == {"rejected"}

        async def rejections() -> dict[str, CloudEvent] | None:
            events = await events_of(kafka_bootstrap, referral_id, project_id)
            found = {e.data["command_id"]: e for e in events if e.type == REJECTED}
            return found if set(refused) <= set(found) else None

        rejected = await wait_until(rejections, what="command_rejected events")
        early = rejected[start_early.id].data
        assert early["member_id"] == receiver
        assert early["command_type"] == "fr.relais.referral.command.start.v1"
        assert early["reason"].startswith("referral.transition : Action « start » impossible")
        assert rejected[sender_accepts.id].data["member_id"] == sender
        assert rejected[sender_accepts.id].key == project_id  # keyed by project, like the rest
        assert (await state())["version"] == before["version"]

        # 2. Forgeries and stale commands: to the DLQ with the reason, nothing changes.
        forged = sign_command(Ed25519PrivateKey.generate(), command(c.AcceptReferral, receiver))
        genuine = sign_command(receiver_key, command(c.AcceptReferral, receiver))
        tampered = genuine.model_copy(
            update={"data": {**genuine.data, "referral_id": "ref_someone_else"}}
        )
        stale = sign_command(
            receiver_key,
            command(c.AcceptReferral, receiver, issued_at=datetime.now(UTC) - timedelta(hours=1)),
        )
        for event in (forged, tampered, stale):
            await send_command(kafka_bootstrap, event)
        expected = {
            forged.id: "invalid_signature",
            tampered.id: "invalid_signature",
            stale.id: "stale_command",
        }

        async def all_dead() -> dict[str, dict[str, str]] | None:
            found = await dead_letters(kafka_bootstrap, set(expected))
            return found if set(found) == set(expected) else None

        dead = await wait_until(all_dead, what="dead letters")
        assert {k: v["x-dlq-reason"] for k, v in dead.items()} == expected
        assert "does not verify" in dead[forged.id]["x-dlq-error"]
        assert dead[forged.id]["x-dlq-attempts"] == "1"  # never retried
        after = await state()
        assert (after["status"], after["version"]) == ("sent", before["version"])
        assert await commands_recorded(stack, list(expected)) == {}

        # 3. The same accept sent twice acts once; an assign after it shows both were read
        # (one project, one key, one partition: in order).
        accept = sign_command(receiver_key, command(c.AcceptReferral, receiver))
        assign = sign_command(
            receiver_key, command(c.AssignReferral, receiver, adviser_user_id="usr_claire")
        )
        for event in (accept, accept, assign):
            await send_command(kafka_bootstrap, event)

        async def assigned() -> dict[str, Any] | None:
            body = await state()
            return body if body.get("assignee_user_id") == "usr_claire" else None

        done = await wait_until(assigned, what="the assign command applied")
        assert done["status"] == "accepted"
        assert done["version"] == before["version"] + 2  # accept once, assign once
        rows = await commands_recorded(stack, [accept.id, assign.id])
        assert {k: r.outcome for k, r in rows.items()} == {
            accept.id: "applied",
            assign.id: "applied",
        }
        assert rows[accept.id].key_id == key_ids[0]

        async def accepted_events() -> list[CloudEvent] | None:
            events = await events_of(kafka_bootstrap, referral_id, project_id)
            assigned_seen = any(e.type == "fr.relais.referral.assigned.v1" for e in events)
            return [e for e in events if e.type == ACCEPTED] if assigned_seen else None

        accepted = await wait_until(accepted_events, what="the referral's events")
        assert len(accepted) == 1
        assert accepted[0].data["actor"] == f"member:{receiver}"

        # 4. Long after, a replay of the log (a consumer whose inbox forgot, say) is recognised
        # by command id and acknowledged: freshness is not checked again, nothing acts twice.
        runtime = stack.runtime("referral")
        handler = CommandHandler(
            stack.services["referral"].app.state.referral_deps, freshness=timedelta(0)
        )
        parsed = c.AcceptReferral.model_validate(accept.data)
        async with runtime.db.transaction() as session:
            await handler(parsed, HandlerContext(session, accept, runtime.clock, runtime.source))
        assert (await state())["version"] == done["version"]
        unseen = sign_command(receiver_key, command(c.HoldReferral, receiver))
        async with runtime.db.transaction() as session:
            with pytest.raises(DeadLetter, match="stale_command"):
                await handler(
                    c.HoldReferral.model_validate(unseen.data),
                    HandlerContext(session, unseen, runtime.clock, runtime.source),
                )

        # No bearer token anywhere in what the member tools wrote.
        for event in (accept, assign, start_early):
            assert "bearer" not in json.dumps(event.data).lower()
            assert not {"authorization", "token"} & set(event.data)


async def _all(probe: Any, count: int) -> Any:
    found = await probe
    return found if len(found) == count else None
