"""Notify's people channels through real parts: the real broker, a real SMTP server (the dev
server, writing `.eml` files), the directory and referral services answering over HTTP.

One stack per module and database backend, driven by a ManualClock that only moves forward;
the tests run in file order and each starts from "now". The demo network's own structures
are loaded through the directory's API (a few of them: the ones the tests need).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.cli import demo
from services.directory.demo_data import generate
from services.directory.main import create_app as directory_app
from services.directory.settings import DirectorySettings
from services.kit.clock import ManualClock
from services.kit.embedded import free_port
from services.notify.main import create_app as notify_app
from services.notify.people.devmail import DevMailServer, start_dev_mail
from services.notify.people.models import Notification
from services.notify.settings import NotifySettings
from services.referral.main import create_app as referral_app
from services.referral.models import AccessLogEntry
from services.referral.settings import ReferralSettings
from tests.harness.kafka import read_topic
from tests.harness.postgres import create_database, sqlalchemy_url
from tests.harness.stack import ADMIN_KEY, PORTEUR, RunningService, serve, stop, wait_until

SLUGS = ("starter-somme", "fonds-picardie", "dla-somme")
INTERNAL = {"X-Internal-Key": "dev-internal-key-change-me"}


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[DevMailServer]:
    """The development SMTP server on a free 127.0.0.1 port, keeping `.eml` files in tmp."""
    server = start_dev_mail(tmp_path / "mail")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class World:
    services: dict[str, RunningService]
    client: httpx.AsyncClient
    clock: ManualClock
    mail: DevMailServer
    bootstrap: str
    members: dict[str, str]  # slug -> member id
    api_keys: dict[str, str]
    contacts: dict[str, str]  # slug -> contact email
    _tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.services[name].url

    async def auth(self, slug: str) -> dict[str, str]:
        cached = self._tokens.get(slug)
        if cached is None or self.clock.now() - cached[1] > timedelta(minutes=5):
            r = await self.client.post(
                self.url("directory") + "/v1/token", json={"api_key": self.api_keys[slug]}
            )
            assert r.status_code == 200, r.text
            cached = (r.json()["access_token"], self.clock.now())
            self._tokens[slug] = cached
        return {"Authorization": f"Bearer {cached[0]}"}

    def mails_to(self, slug: str) -> list[EmailMessage]:
        return [m for m in self.mail.messages() if self.contacts[slug] in str(m["To"])]

    async def send_referral(self, sender: str, receiver: str, **facts: Any) -> dict[str, Any]:
        """A project (with consent) of `sender`, referred to `receiver`."""
        headers = await self.auth(sender)
        body = {
            "title": "Épicerie solidaire",
            "stage": facts.get("stage", "creation"),
            "commune": facts.get("commune", "80021"),
            "porteur": PORTEUR,
            "consent": {
                "text_version": "2026-01",
                "scopes": ["partage_structure_destinataire", "contact_par_structure"],
            },
        }
        project = await self.client.post(
            self.url("referral") + "/v1/projects", json=body, headers=headers
        )
        assert project.status_code == 201, project.text

        async def sent() -> dict[str, Any] | None:
            r = await self.client.post(
                self.url("referral") + "/v1/referrals",
                json={
                    "project_id": project.json()["id"],
                    "receiver_member_id": self.members[receiver],
                },
                headers=headers,
            )
            return r.json() if r.status_code == 201 else None  # until referral knows the member

        result: dict[str, Any] = await wait_until(sent, what="referral accepted by the API")
        return result

    async def member_feed(self, slug: str, after: str | None = None) -> list[dict[str, Any]]:
        r = await self.client.get(
            self.url("notify") + f"/v1/members/{self.members[slug]}/feed",
            params={"after": after} if after else {},
            headers=await self.auth(slug),
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def in_feed(self, slug: str, referral_id: str, type_suffix: str = "sent.v1") -> bool:
        return any(
            i["data"].get("referral_id") == referral_id and i["type"].endswith(type_suffix)
            for i in await self.member_feed(slug)
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    var_dir = tmp_path_factory.mktemp("notify-people")
    urls: dict[str, str | None] = {"directory": None, "referral": None, "notify": None}
    if request.param == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        urls = {n: sqlalchemy_url(admin_url, create_database(admin_url)) for n in urls}
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # a Monday, 10:00 in Paris
    mail = start_dev_mail(var_dir / "mail")
    ports = {n: free_port() for n in ("directory", "referral", "notify")}
    common: dict[str, Any] = dict(
        kafka_bootstrap_servers=kafka_bootstrap,
        var_dir=var_dir,
        consumer_group_prefix=f"people-{uuid.uuid4().hex[:12]}",
        environment="test",
    )
    jwks = f"http://127.0.0.1:{ports['directory']}/.well-known/jwks.json"
    apps = {
        "directory": directory_app(
            DirectorySettings(
                port=ports["directory"],
                admin_key=ADMIN_KEY,
                database_url=urls["directory"],
                **common,
            ),
            clock=clock,
        ),
        "referral": referral_app(
            ReferralSettings(
                port=ports["referral"], jwks_url=jwks, database_url=urls["referral"], **common
            ),
            clock=clock,
        ),
        "notify": notify_app(
            NotifySettings(
                port=ports["notify"],
                jwks_url=jwks,
                database_url=urls["notify"],
                smtp_port=mail.port,
                referral_url=f"http://127.0.0.1:{ports['referral']}",
                **common,
            ),
            clock=clock,
        ),
    }
    services: dict[str, RunningService] = {}
    try:
        for name, app in apps.items():
            services[name] = await serve(name, app, ports[name])
        await wait_until(
            lambda: _ready(services), timeout=60, what="directory, referral and notify ready"
        )
        async with httpx.AsyncClient(timeout=15) as client:
            full = generate()
            data = dataclasses.replace(
                full,
                networks=tuple(n for n in full.networks if n.id == "tremplin-demo"),
                members=tuple(m for m in full.members if m.slug in SLUGS),
                offers=(),
                accounts=(),
            )
            loaded = await demo.load_demo(services["directory"].url, ADMIN_KEY, data)
            world = World(
                services,
                client,
                clock,
                mail,
                kafka_bootstrap,
                members={slug: loaded.member_ids[slug] for slug in SLUGS},
                api_keys={slug: loaded.api_keys[slug] for slug in SLUGS},
                contacts={m.slug: m.contact_email for m in data.members},
            )
            yield world
    finally:
        for service in reversed(list(services.values())):
            await stop(service)
        mail.stop()


async def _ready(services: dict[str, RunningService]) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        for service in services.values():
            if (await client.get(service.url + "/readyz")).status_code != 200:
                return False
    return all(s.runtime.assigned() for s in services.values())


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def _notifications(w: World) -> list[Notification]:
    async with w.services["notify"].runtime.db.session() as session:
        return list((await session.exec(select(Notification))).all())


# --- must hold --------------------------------------------------------------------------------


async def test_a_referral_sent_in_the_demo_network_emails_the_receiving_member_once(
    world: World,
) -> None:
    w = world
    referral = await w.send_referral("starter-somme", "fonds-picardie", stage="creation")

    async def delivered() -> list[EmailMessage]:
        return [m for m in w.mails_to("fonds-picardie") if referral["id"] in _text(m)]

    mails = await wait_until(delivered, what="the referral email")
    # The notification is marked sent only after SMTP accepted it: then nothing more may come.
    await wait_until(
        lambda: _sent(w, referral["id"], "member:" + w.members["fonds-picardie"]),
        what="notification marked sent",
    )
    mails = await delivered()
    assert len(mails) == 1
    mail = mails[0]
    text = _text(mail)
    assert "Nouvelle orientation" in str(mail["Subject"])
    assert "Stade du projet : Création" in text
    assert "Commune : Amiens (80021)" in text
    assert "Coopérative Démo Starter ESS Somme vous oriente un projet" in text
    assert mail["Content-Language"] == "fr"
    assert str(mail["Message-ID"]).startswith("<ntf_")
    assert str(mail["List-Unsubscribe"]).startswith("<http")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = mail.get_body(("html",))
    assert html is not None and "Amiens (80021)" in str(html.get_content())
    # The sender's contact is not told about its own referral.
    assert not [m for m in w.mails_to("starter-somme") if referral["id"] in _text(m)]
    # The .eml on disk is readable as is: French words in clear, not encoded.
    raw = "\n".join(p.read_text("utf-8") for p in sorted(w.mail.directory.glob("*.eml")))
    assert "Stade du projet : Création" in raw


async def _sent(w: World, referral_id: str, subject: str) -> bool:
    return any(
        n.subject == subject and n.context.get("referral_id") == referral_id and n.status == "sent"
        for n in await _notifications(w)
    )


async def test_the_in_app_feed_counts_unread_items_and_marks_them_read(world: World) -> None:
    w = world
    referral = await w.send_referral("starter-somme", "fonds-picardie")
    url = w.url("notify") + "/v1/feed"

    async def item() -> dict[str, Any] | None:
        r = await w.client.get(url, headers=await w.auth("fonds-picardie"))
        assert r.status_code == 200, r.text
        found = [i for i in r.json()["items"] if i["context"].get("referral_id") == referral["id"]]
        return found[0] if found else None

    found = await wait_until(item, what="the in-app item")
    assert found["read"] is False and "Amiens (80021)" in found["title"]
    headers = await w.auth("fonds-picardie")
    before = (await w.client.get(url, headers=headers)).json()["unread"]
    assert before >= 1
    r = await w.client.post(url + f"/{found['id']}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read"] is True
    assert (await w.client.get(url, headers=headers)).json()["unread"] == before - 1
    # Another member cannot mark it, nor see it.
    other = await w.auth("dla-somme")
    assert (await w.client.post(url + f"/{found['id']}/read", headers=other)).status_code == 404
    r = await w.client.post(url + "/read-all", headers=headers)
    assert r.status_code == 200
    assert (await w.client.get(url, headers=headers)).json()["unread"] == 0


async def test_the_rest_member_feed_returns_the_same_items_as_the_kafka_topic(
    world: World,
) -> None:
    w = world
    referral = await w.send_referral("starter-somme", "fonds-picardie")
    await wait_until(lambda: w.in_feed("fonds-picardie", referral["id"]), what="member feed")
    items = await w.member_feed("fonds-picardie")
    topic = f"member.{w.members['fonds-picardie']}.feed"
    # The broker lives for the whole test session and member ids repeat across this module's
    # worlds (SQLite, PostgreSQL), so the topic also holds other worlds' items, and may hold
    # later ones of this world: this world's items are on it, in the REST feed's order.
    ids = {i["id"] for i in items}
    records: list = []
    for _ in range(50):  # the relay may still be publishing this world's last items
        records = [
            r
            for r in await read_topic(w.bootstrap, topic, at_least=len(items))
            if dict(r.headers)["ce_id"].decode() in ids
        ]
        if len(records) >= len(items):
            break
        await asyncio.sleep(0.1)
    on_kafka = [
        (dict(r.headers)["ce_id"].decode(), dict(r.headers)["ce_type"].decode()) for r in records
    ]
    assert on_kafka == [(i["id"], i["type"]) for i in items]
    # Keyed like the source: a project's events by project, the directory's by member.
    keys = [(i["data"].get("project_id") or i["data"]["member_id"]).encode() for i in items]
    assert [r.key for r in records] == keys
    assert json.loads(records[-1].value) == items[-1]["data"]
    assert "fr.relais.referral.sent.v1" in {i["type"] for i in items}
    # Cursor-based: after the first item come the others, in order.
    rest = await w.member_feed("fonds-picardie", after=items[0]["cursor"])
    assert [i["id"] for i in rest] == [i["id"] for i in items[1:]]
    # A member reads only its own feed.
    r = await w.client.get(
        w.url("notify") + f"/v1/members/{w.members['fonds-picardie']}/feed",
        headers=await w.auth("dla-somme"),
    )
    assert r.status_code == 403


async def test_preferences_off_send_nothing(world: World) -> None:
    w = world
    headers = await w.auth("dla-somme")
    r = await w.client.put(
        w.url("notify") + "/v1/preferences",
        json={"kinds": {"referral.sent": "off"}},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["kinds"] == {"referral.sent": "off"}
    referral = await w.send_referral("starter-somme", "dla-somme")
    # Once notify handled the event (it is in the member's feed, same transaction) ...
    await wait_until(lambda: w.in_feed("dla-somme", referral["id"]), what="event handled")
    # ... no email was recorded or sent, and no in-app item either.
    assert not [
        n for n in await _notifications(w) if n.context.get("referral_id") == referral["id"]
    ]
    assert w.mails_to("dla-somme") == []
    feed = (await w.client.get(w.url("notify") + "/v1/feed", headers=headers)).json()
    assert not [i for i in feed["items"] if i["context"].get("referral_id") == referral["id"]]


async def test_a_user_set_to_daily_digest_receives_one_message_for_ten_events(
    world: World,
) -> None:
    w = world
    r = await w.client.put(
        w.url("notify") + "/v1/preferences",
        json={"default": "daily"},
        headers=await w.auth("fonds-picardie"),
    )
    assert r.status_code == 200 and r.json()["default"] == "daily"
    before = len(w.mails_to("fonds-picardie"))
    ids = [(await w.send_referral("starter-somme", "fonds-picardie"))["id"] for _ in range(10)]

    async def all_handled() -> bool:
        feed = await w.member_feed("fonds-picardie")
        return set(ids) <= {i["data"].get("referral_id") for i in feed}

    await wait_until(all_handled, timeout=60, what="ten referrals handled by notify")
    assert len(w.mails_to("fonds-picardie")) == before  # nothing yet: they wait for the digest
    # The next morning in Paris, at the digest hour (08:00): one message with the ten.
    w.clock.set(datetime(2026, 1, 6, 7, 1, tzinfo=UTC))

    async def digest() -> list[EmailMessage]:
        return [
            m for m in w.mails_to("fonds-picardie")[before:] if "récapitulatif" in str(m["Subject"])
        ]

    mails = await wait_until(digest, what="the digest")
    subject = "member:" + w.members["fonds-picardie"]
    await wait_until(lambda: _all_sent(w, subject, ids), what="the ten notifications marked sent")
    assert len(w.mails_to("fonds-picardie")) == before + 1
    text = _text(mails[0])
    assert all(referral_id in text for referral_id in ids)
    assert text.count("Nouvelle orientation") == 10
    r = await w.client.put(
        w.url("notify") + "/v1/preferences",
        json={"default": "immediate"},
        headers=await w.auth("fonds-picardie"),
    )
    assert r.status_code == 200


async def _all_sent(w: World, subject: str, ids: list[str]) -> bool:
    sent = {
        n.context.get("referral_id")
        for n in await _notifications(w)
        if n.subject == subject and n.status == "sent" and n.mode == "daily"
    }
    return set(ids) <= sent


async def test_the_porteur_is_told_only_while_their_consent_is_active(world: World) -> None:
    w = world
    referral = await w.send_referral("starter-somme", "fonds-picardie")
    await wait_until(lambda: w.in_feed("fonds-picardie", referral["id"]), what="sent handled")
    r = await w.client.post(
        w.url("referral") + f"/v1/referrals/{referral['id']}/accept",
        headers=await w.auth("fonds-picardie"),
    )
    assert r.status_code == 200, r.text

    async def porteur_mail() -> list[EmailMessage]:
        return [m for m in w.mail.messages() if PORTEUR["email"] in str(m["To"])]

    mails = await wait_until(porteur_mail, what="the porteur's email")
    assert "acceptée" in str(mails[0]["Subject"])
    assert "Coopérative Démo Starter" not in _text(mails[0])  # it names the receiver ...
    assert "Fonds Démo Solidaire Picardie" in _text(mails[0])
    assert mails[0]["List-Unsubscribe"] is None
    # ... the read is in the project's access log, and notify kept no address.
    async with w.services["referral"].runtime.db.session() as session:
        log = (
            await session.exec(
                select(AccessLogEntry).where(AccessLogEntry.project_id == referral["project_id"])
            )
        ).all()
    assert any(e.reader == "service:notify" for e in log)
    assert not [n for n in await _notifications(w) if PORTEUR["email"] in str(n.context)]
    # Without an active consent, the referral service gives no address.
    headers = await w.auth("starter-somme")
    bare = await w.client.post(
        w.url("referral") + "/v1/projects",
        json={
            "title": "Sans consentement",
            "stage": "idee",
            "commune": "80021",
            "porteur": PORTEUR,
        },
        headers=headers,
    )
    assert bare.status_code == 201, bare.text
    contact = w.url("referral") + f"/internal/v1/projects/{bare.json()['id']}/porteur-contact"
    assert (await w.client.get(contact, headers=INTERNAL)).status_code == 404
    assert (await w.client.get(contact)).status_code == 401
    consents = await w.client.get(
        w.url("referral") + f"/v1/projects/{referral['project_id']}/consents", headers=headers
    )
    for consent in consents.json():
        r = await w.client.post(
            w.url("referral") + f"/v1/consents/{consent['id']}/withdraw", headers=headers
        )
        assert r.status_code == 200, r.text
    withdrawn = (
        w.url("referral") + f"/internal/v1/projects/{referral['project_id']}/porteur-contact"
    )
    assert (await w.client.get(withdrawn, headers=INTERNAL)).status_code == 404


async def test_the_dev_smtp_server_keeps_each_message_as_a_readable_eml(
    mail_server: DevMailServer,
) -> None:
    from services.notify.people.mailer import Letter, Mailer, SmtpConfig

    mailer = Mailer(SmtpConfig("127.0.0.1", mail_server.port), "Relais <n@relais.localhost>")
    letter = Letter(
        to=["contact@exemple.fr"],
        subject="Nouvelle orientation : Création à Amiens",
        lang="en",
        message_id="<ntf_x@relais.test>",
        template="email",
        values={
            "title": "t",
            "name": None,
            "sentence": "A referral.",
            "facts": {"stage": "Creation", "commune": "Amiens (80021)", "referral_id": "ref_1"},
            "link": None,
            "preferences_url": "http://console/preferences",
            "porteur": False,
        },
    )
    await mailer.deliver(letter)
    await mailer.deliver(letter)  # a retry: same Message-ID, the receiver can dedupe
    files = sorted(mail_server.directory.glob("*.eml"))
    assert len(files) == 2
    raw = files[0].read_text("utf-8")
    assert "X-Envelope-To: contact@exemple.fr" in raw
    assert "Project stage : Creation" in raw and "Hello," in raw  # English on request
    messages = mail_server.messages()
    assert {m["Message-ID"] for m in messages} == {"<ntf_x@relais.test>"}
    assert messages[0].get_body(("html",)) is not None
