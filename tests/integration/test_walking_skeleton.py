"""The thin path through all four services, with real HTTP, a real broker and real webhooks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.notify.settings import DEV_WEBHOOK_SECRET
from tests.harness.receiver import webhook_receiver
from tests.harness.stack import orient, register, running_stack, token_for, wait_until


async def test_referral_reaches_webhook_and_indicators(
    kafka_bootstrap: str, unique_name, tmp_path: Path
) -> None:
    async with (
        webhook_receiver() as receiver,
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("skel"),
            webhook_url=receiver.url,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        sender, sender_key = await register(client, stack, "Coopérative d'Amiens")
        receiver_member, _ = await register(client, stack, "Incubateur de Lille")
        token = await token_for(client, stack, sender_key)
        auth = {"Authorization": f"Bearer {token}"}

        async def receiver_known() -> bool:
            probe = await orient(client, stack.url("referral"), auth, "mbr_nobody", stage="idee")
            assert probe.status_code == 422  # unknown receiver: refused, nothing written
            from services.referral.models import KnownMember

            async with stack.runtime("referral").db.session() as session:
                return await session.get(KnownMember, receiver_member) is not None

        await wait_until(receiver_known, what="referral's copy of the directory")

        created = await orient(
            client, stack.url("referral"), auth, receiver_member, themes=["alimentation"]
        )
        assert created.status_code == 201, created.text
        referral = created.json()

        # The topic is shared by the session's tests: find the webhook for this referral.
        async def our_webhook() -> dict | None:
            for hook in receiver.requests:
                payload = Webhook(DEV_WEBHOOK_SECRET).verify(hook.body, hook.headers)
                if payload["data"]["referral_id"] == referral["id"]:
                    return dict(payload)
            return None

        payload = await wait_until(our_webhook, what="webhook")
        assert payload["type"] == "fr.relais.referral.sent.v1"
        assert payload["data"]["referral_id"] == referral["id"]
        assert payload["data"]["receiver_member_id"] == receiver_member

        async def counted() -> dict | None:
            response = await client.get(stack.url("evaluation") + "/v1/indicators", headers=auth)
            body = response.json()
            counts = {m["member_id"]: m for m in body["by_member"]}
            return body if counts.get(sender, {}).get("sent") == 1 else None

        indicators = await wait_until(counted, what="evaluation count")
        by_member = {m["member_id"]: m for m in indicators["by_member"]}
        assert by_member[receiver_member]["received"] == 1


@pytest.mark.parametrize("path", ["/v1/referrals"])
async def test_referral_api_refuses_missing_token_in_french(
    kafka_bootstrap: str, unique_name, tmp_path: Path, path: str
) -> None:
    async with (
        running_stack(
            bootstrap=kafka_bootstrap,
            var_dir=tmp_path,
            group_prefix=unique_name("auth"),
            webhook_url=None,
        ) as stack,
        httpx.AsyncClient(timeout=10) as client,
    ):
        response = await client.post(stack.url("referral") + path, json={})
        assert response.status_code == 401
        assert "Authentification requise" in response.json()["error"]["message"]
        english = await client.post(
            stack.url("referral") + path, json={}, headers={"Accept-Language": "en"}
        )
        assert "Authentication required" in english.json()["error"]["message"]
        assert json.loads(english.text)["error"]["code"] == "auth.missing"
