"""Webhook receivers with a script (status, headers, delay per request), and notify served alone.

`partner_server()` is a real aiohttp HTTP server; each `endpoint(...)` answers its requests
from a script (then a default), records headers and raw bodies, and can be slow. `notify_alone`
serves the notify service on a real uvicorn server with tokens minted by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlmodel import col, select

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.referral import ReferralSent
from services.kit.auth import JwtVerifier
from services.kit.clock import Clock, ManualClock
from services.kit.embedded import free_port
from services.kit.inbox import InboxRecord
from services.kit.messaging import EventPublisher
from services.kit.runtime import ServiceRuntime
from services.notify.main import create_app
from services.notify.settings import NotifySettings
from tests.harness.stack import RunningService, serve, stop, wait_until


@dataclass
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b""


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() of arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Endpoint:
    url: str
    script: list[Reply]
    default: Reply
    requests: list[Request] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # time.monotonic() of each answer

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


@dataclass
class Partner:
    base: str
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def endpoint(self, *script: Reply, default: Reply | None = None) -> Endpoint:
        name = uuid.uuid4().hex[:10]
        found = Endpoint(f"{self.base}/hooks/{name}", list(script), default or Reply())
        self.endpoints[name] = found
        return found


@contextlib.asynccontextmanager
async def partner_server() -> AsyncIterator[Partner]:
    port = free_port()
    partner = Partner(f"http://127.0.0.1:{port}")

    async def hook(request: web.Request) -> web.Response:
        endpoint = partner.endpoints.get(request.match_info["name"])
        if endpoint is None:
            return web.Response(status=404)
        endpoint.requests.append(
            Request(dict(request.headers), await request.read(), time.monotonic())
        )
        reply = endpoint.script.pop(0) if endpoint.script else endpoint.default
        if reply.delay:
            await asyncio.sleep(reply.delay)  # a slow receiver, not a business delay
        endpoint.answered.append(time.monotonic())
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)

    app = web.Application()
    app.router.add_post("/hooks/{name}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield partner
    finally:
        await runner.cleanup()


# --- tokens ---------------------------------------------------------------------------------
@dataclass
class Mint:
    """An ES256 key of the test's own and tokens shaped like the directory's."""

    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="ES256")
        return {"keys": [public]}

    def headers(
        self,
        *,
        member: str | None = None,
        networks: tuple[str, ...] = (),
        roles: tuple[str, ...] = ("member_tool",),
        subject: str | None = None,
    ) -> dict[str, str]:
        now = datetime.now(UTC)
        claims = {
            "iss": "relais-directory",
            "aud": "relais",
            "sub": subject
            or (f"member:{member}" if member else f"user:usr_{uuid.uuid4().hex[:8]}"),
            "member": member,
            "networks": list(networks),
            "roles": list(roles),
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(days=30)).timestamp()),  # tests move the clock by days
        }
        token = jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})
        return {"Authorization": f"Bearer {token}"}


# --- notify served alone --------------------------------------------------------------------
@dataclass
class Notify:
    client: httpx.AsyncClient
    clock: ManualClock
    running: RunningService
    mint: Mint
    publisher: EventPublisher

    @property
    def runtime(self) -> ServiceRuntime:
        return self.running.runtime

    async def publish(self, event: Event) -> CloudEvent:
        """Publish a referral-service event through the real broker, as the referral would."""
        envelope = CloudEvent.wrap(event, source="/relais/referral", time=self.clock.now())
        await self.publisher.publish(envelope, event.topic)
        return envelope

    async def processed(self, *envelopes: CloudEvent) -> None:
        """Wait until the webhooks consumer committed these events (inbox rows)."""
        ids = [e.id for e in envelopes]
        group = self.runtime.settings.consumer_group("referral-webhooks")

        async def done() -> bool:
            async with self.runtime.db.session() as session:
                rows = (
                    await session.exec(
                        select(InboxRecord.event_id).where(
                            InboxRecord.consumer == group, col(InboxRecord.event_id).in_(ids)
                        )
                    )
                ).all()
            return len(set(rows)) == len(ids)

        await wait_until(done, timeout=60, what="events consumed by notify")
        await self.running.app.state.webhooks.dispatcher.idle()

    async def delivery(self, delivery_id: str, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get(f"/v1/deliveries/{delivery_id}", headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_delivery(
        self, delivery_id: str, headers: dict[str, str], probe: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            response = await self.client.get(f"/v1/deliveries/{delivery_id}", headers=headers)
            if response.status_code != 200:
                return None
            body = dict(response.json())
            return body if probe(body) else None

        found: dict[str, Any] = await wait_until(check, timeout=30, what=f"delivery {delivery_id}")
        return found


@contextlib.asynccontextmanager
async def notify_alone(
    kafka_bootstrap: str,
    var_dir: Path,
    group_prefix: str,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    consuming: bool = True,
    **settings: Any,
) -> AsyncIterator[Notify]:
    clock = clock or ManualClock(datetime.now(UTC))
    assert isinstance(clock, ManualClock)
    port = free_port()
    config = NotifySettings(
        port=port,
        kafka_bootstrap_servers=kafka_bootstrap,
        var_dir=var_dir,
        consumer_group_prefix=group_prefix,
        environment="test",
        jwks_url=None,
        database_url=database_url,
        webhook_retry_jitter=0.0,
        log_level="WARNING",
        **settings,
    )
    app = create_app(config, clock=clock)
    mint = Mint()
    app.state.verifier = JwtVerifier(
        issuer=config.jwt_issuer, audience=config.jwt_audience, jwks=mint.jwks(), clock=clock
    )
    publisher = EventPublisher(kafka_bootstrap, f"test-{group_prefix}")
    await publisher.start()
    running = await serve("notify", app, port)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            notify = Notify(client, clock, running, mint, publisher)
            if consuming:
                # The webhooks consumer is up once it has read (its history and) a probe.
                probe = ReferralSent(
                    project_id="prj_probe",
                    referral_id=f"ref_probe_{uuid.uuid4().hex[:8]}",
                    sender_member_id="mbr_probe_a",
                    receiver_member_id="mbr_probe_b",
                )
                await notify.processed(await notify.publish(probe))
            yield notify
    finally:
        await stop(running)
        await publisher.stop()
