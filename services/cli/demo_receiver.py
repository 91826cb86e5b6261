"""A stand-in partner system for `relais dev`: receives the notify service's webhooks.

It verifies each request's Standard Webhooks signature with the shared secret, answers 204
(or 401 when the signature does not verify, like a real receiver would), and writes every
request — headers, raw body, verification outcome — as one JSON file in the inbox folder,
so a demo can show exactly what a partner got. Stdlib server: starts instantly, no deps.

    RELAIS_DEMO_WEBHOOK_SECRET=whsec_... python -m services.cli.demo_receiver --port 8010

`relais dev` subscribes it as a France Active fund's system would (`provision_partner`): a
`partner_system` account of the demo network Tremplin, its token, and a subscription to the
network's referral events through notify's `/v1/subscriptions`, with this receiver's secret.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET_ENV = "RELAIS_DEMO_WEBHOOK_SECRET"
PARTNER_NETWORK = "tremplin-demo"
PARTNER_EMAIL = "si.france-active-picardie@demo.relais.test"
PARTNER_NAME = "Système d'information de France Active Picardie (démo)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class Inbox:
    def __init__(self, directory: Path, secret: str) -> None:
        self.directory = directory
        self.webhook = Webhook(secret)
        directory.mkdir(parents=True, exist_ok=True)

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        verified, error = True, None
        try:
            self.webhook.verify(body, headers, json_parse=False)
        except Exception as exc:  # WebhookVerificationError, or malformed headers
            verified, error = False, f"{type(exc).__name__}: {exc}"
        text = body.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        entry = {
            "received_at": datetime.now(UTC).isoformat(),
            "path": path,
            "headers": headers,
            "body": text,
            "json": parsed,
            "signature_verified": verified,
            "verification_error": error,
        }
        webhook_id = headers.get("webhook-id") or headers.get("Webhook-Id") or uuid.uuid4().hex
        name = f"{time.time_ns()}-{_UNSAFE.sub('_', webhook_id)[:80]}.json"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_text(json.dumps(entry, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.directory / name)  # atomic: a reader never sees half a file
        return entry


def make_handler(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "relais-demo-receiver/1"

        def do_GET(self) -> None:
            if self.path in ("/healthz", "/readyz", "/"):
                count = sum(1 for _ in inbox.directory.glob("*.json"))
                self._reply(200, {"status": "ok", "received": count})
            else:
                self._reply(404, {"detail": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            entry = inbox.receive(self.path, dict(self.headers.items()), body)
            if entry["signature_verified"]:
                self._reply(204, None)
            else:
                self._reply(401, {"detail": entry["verification_error"]})

        def _reply(self, status: int, payload: Any) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


async def provision_partner(
    *,
    directory_url: str,
    notify_url: str,
    admin_key: str,
    receiver_url: str,
    secret: str,
    network_id: str = PARTNER_NETWORK,
) -> dict[str, Any]:
    """The stand-in fund's account (role `partner_system`, scoped to `network_id`), its token,
    and its webhook subscription to the network's referral events. Returns what
    var/demo-credentials.json keeps under `partner`."""
    import secrets as random_secrets

    import httpx

    from services.cli.demo import invitation_secret

    password = f"Partenaire-{random_secrets.token_urlsafe(12)}-2026"  # letters and digits
    async with httpx.AsyncClient(timeout=30) as client:
        invited = await client.post(
            directory_url + "/v1/users",
            json={
                "email": PARTNER_EMAIL,
                "name": PARTNER_NAME,
                "roles": ["partner_system"],
                "member_id": None,
                "network_id": network_id,
            },
            headers={"X-Admin-Key": admin_key},
        )
        if invited.status_code != 201:
            raise RuntimeError(f"compte partenaire : HTTP {invited.status_code} {invited.text}")
        link = invitation_secret(invited.json()["invitation_url"])
        chosen = await client.post(
            directory_url + "/v1/password", json={"token": link, "password": password}
        )
        if chosen.status_code != 200:
            raise RuntimeError(f"mot de passe partenaire : HTTP {chosen.status_code}")
        token = await client.post(
            directory_url + "/v1/token", json={"email": PARTNER_EMAIL, "password": password}
        )
        if token.status_code != 200:
            raise RuntimeError(f"jeton partenaire : HTTP {token.status_code} {token.text}")
        subscribed = await client.post(
            notify_url + "/v1/subscriptions",
            json={
                "url": receiver_url,
                "network_ids": [network_id],
                "description": PARTNER_NAME,
                "secret": secret,
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        if subscribed.status_code != 201:
            raise RuntimeError(
                f"abonnement webhook : HTTP {subscribed.status_code} {subscribed.text}"
            )
    sub = subscribed.json()
    return {
        "name": PARTNER_NAME,
        "email": PARTNER_EMAIL,
        "password": password,
        "role": "partner_system",
        "network_id": network_id,
        "subscription_id": sub["id"],
        "url": receiver_url,
        "event_types": sub["event_types"] or "tous les événements d'orientation",
        "secret": secret,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--inbox", type=Path, default=Path("var/partner-inbox"))
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        parser.error(f"{SECRET_ENV} must hold the webhook secret (whsec_...)")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Inbox(args.inbox, secret)))
    # SIGTERM from `relais dev`: finish the request in flight, then exit 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"demo receiver on http://{args.host}:{args.port}, inbox {args.inbox}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
