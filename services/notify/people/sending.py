"""Timer side: send one notification now, or one day's digest, over SMTP.

Addresses are looked up at send time and dropped after it. A failed send (SMTP or lookup)
reschedules the same durable timer with a growing delay, keeping the same `Message-ID`;
after `email_max_attempts` the notification is `failed`. Each sent notification emits
`EmailSent` through the outbox, in the transaction that marks it sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.envelope import CloudEvent
from contracts.events.notify import EmailSent
from services.directory.geo import Geography
from services.kit.timers import Fired, TimerHandler, schedule
from services.notify.people import domain
from services.notify.people.handlers import DIGEST_TIMER, EMAIL_TIMER, language_of, link_for
from services.notify.people.lookups import Address, AddressBook
from services.notify.people.mailer import Letter, Mailer
from services.notify.people.models import Notification
from services.notify.people.texts import title_and_sentence, view

log = logging.getLogger("relais.notify.people")
Emit = Callable[[AsyncSession, Event], CloudEvent]


@dataclass
class Sender:
    mailer: Mailer
    book: AddressBook
    emit: Emit
    geo: Callable[[], Geography]
    public_base_url: str  # the console: links and preferences
    notify_base_url: str  # this service: one-click unsubscribe
    unsubscribe_secret: str
    message_domain: str
    max_attempts: int

    def facts(self, context: dict[str, Any], lang: str) -> dict[str, Any]:
        """The facts listed under the sentence: stage label, commune name and code."""
        values = view(context, lang, self.geo())
        return {
            "stage": values["stage"] if context.get("stage") else None,
            "commune": values["commune"] if context.get("commune") else None,
            "referral_id": context.get("referral_id"),
        }

    async def with_names(self, context: dict[str, Any]) -> dict[str, Any]:
        """Members' public names the projection did not have yet (its directory events may
        come after a referral's), asked from the directory at send time."""
        filled = dict(context)
        for role in ("sender", "receiver", "member"):
            member_id = context.get(f"{role}_member_id" if role != "member" else "member_id")
            if member_id and not context.get(f"{role}_name"):
                found = await self.book.lookup(f"member:{member_id}", "name")
                if found.name:
                    filled[f"{role}_name"] = found.name
        return filled

    def common(self, subject: str, kind: str, name: str | None) -> dict[str, Any]:
        token = domain.unsubscribe_token(self.unsubscribe_secret, subject, kind)
        return {
            "name": name,
            "preferences_url": f"{self.public_base_url}/preferences",
            "unsubscribe_url": f"{self.notify_base_url}/v1/unsubscribe?token={quote(token)}",
            "porteur": subject.startswith("porteur:"),
        }


def send_one(sender: Sender) -> TimerHandler:
    async def fire(fired: Fired) -> None:
        session, now = fired.session, fired.clock.now()
        notification = await session.get(Notification, fired.timer.payload["notification_id"])
        if notification is None or notification.status != "pending":
            return
        try:
            address = await sender.book.lookup(notification.subject, notification.kind)
            if not address.emails:
                notification.status = "no_address"
                session.add(notification)
                log.info("notification %s: no address, not sent", notification.id)
                return
            lang = await language_of(session, notification.subject)
            notification.context = await sender.with_names(notification.context)
            await sender.mailer.deliver(_letter(sender, notification, address, lang, now))
        except Exception as exc:  # SMTP, network, lookup: retry on the durable timer
            await _retry(
                sender,
                session,
                notification,
                exc,
                now,
                EMAIL_TIMER,
                notification.id,
                {"notification_id": notification.id},
            )
            return
        _mark_sent(sender, session, notification, now, "email")
        log.info(
            "email %s (%s) sent to %s", notification.id, notification.kind, notification.subject
        )

    return fire


def _letter(
    sender: Sender, notification: Notification, address: Address, lang: str, now: datetime
) -> Letter:
    porteur = notification.subject.startswith("porteur:")
    title, sentence = title_and_sentence(
        notification.kind, notification.context, lang, sender.geo(), porteur=porteur
    )
    values = sender.common(notification.subject, notification.kind, address.name)
    values |= {
        "title": title,
        "sentence": sentence,
        "facts": sender.facts(notification.context, lang),
        "link": None if porteur else link_for(sender.public_base_url, notification.context),
    }
    return Letter(
        to=address.emails,
        subject=title,
        lang=lang,
        message_id=domain.message_id(notification.id, sender.message_domain),
        template="email",
        values=values,
        unsubscribe_url=None if porteur else values["unsubscribe_url"],
        date=now,
    )


def send_digest(sender: Sender) -> TimerHandler:
    async def fire(fired: Fired) -> None:
        session, now, payload = fired.session, fired.clock.now(), fired.timer.payload
        key, subject = payload["digest_key"], payload["subject"]
        rows = await session.exec(
            select(Notification)
            .where(Notification.digest_key == key, Notification.status == "pending")
            .order_by(col(Notification.created_at), col(Notification.id))
        )
        pending = list(rows.all())
        if not pending:
            return
        try:
            address = await sender.book.lookup(subject, "digest")
            if not address.emails:
                for notification in pending:
                    notification.status = "no_address"
                    session.add(notification)
                return
            lang = await language_of(session, subject)
            for notification in pending:
                notification.context = await sender.with_names(notification.context)
            await sender.mailer.deliver(
                _digest_letter(sender, subject, payload["day"], pending, address, lang, now)
            )
        except Exception as exc:
            attempts = int(payload.get("attempts", 0)) + 1
            if attempts >= sender.max_attempts:
                for notification in pending:
                    notification.status, notification.last_error = "failed", str(exc)[:500]
                    session.add(notification)
                log.warning("digest %s failed for good: %s", key, exc)
                return
            await schedule(
                session,
                kind=DIGEST_TIMER,
                key=key,
                due_at=now + domain.email_retry_delay(attempts),
                payload={**payload, "attempts": attempts},
            )
            log.info("digest %s not sent (attempt %d), retrying: %s", key, attempts, exc)
            return
        for notification in pending:
            _mark_sent(sender, session, notification, now, "email_digest")
        log.info("digest %s sent to %s with %d items", key, subject, len(pending))

    return fire


def _digest_letter(
    sender: Sender,
    subject: str,
    day: str,
    pending: list[Notification],
    address: Address,
    lang: str,
    now: datetime,
) -> Letter:
    items = []
    for notification in pending:
        title, sentence = title_and_sentence(
            notification.kind, notification.context, lang, sender.geo()
        )
        items.append(
            {
                "title": title,
                "sentence": sentence,
                "facts": sender.facts(notification.context, lang),
                "link": link_for(sender.public_base_url, notification.context),
            }
        )
    values = sender.common(subject, "*", address.name) | {"day": day, "items": items}
    heading = "Votre récapitulatif Relais du" if lang == "fr" else "Your Relais digest for"
    key = domain.digest_key(subject, day)
    return Letter(
        to=address.emails,
        subject=f"{heading} {day} ({len(items)})",
        lang=lang,
        message_id=domain.message_id(domain.digest_message_key(key), sender.message_domain),
        template="digest",
        values=values,
        unsubscribe_url=values["unsubscribe_url"],
        date=now,
    )


def _mark_sent(
    sender: Sender, session: AsyncSession, notification: Notification, now: datetime, channel: str
) -> None:
    notification.status, notification.sent_at = "sent", now
    notification.attempts += 1
    session.add(notification)
    sender.emit(
        session,
        EmailSent(delivery_id=notification.id, event_id=notification.event_id, channel=channel),
    )


async def _retry(
    sender: Sender,
    session: AsyncSession,
    notification: Notification,
    exc: Exception,
    now: datetime,
    kind: str,
    key: str,
    payload: dict[str, Any],
) -> None:
    notification.attempts += 1
    notification.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if notification.attempts >= sender.max_attempts:
        notification.status = "failed"
        log.warning("email %s failed for good: %s", notification.id, notification.last_error)
    else:
        await schedule(
            session,
            kind=kind,
            key=key,
            due_at=now + domain.email_retry_delay(notification.attempts),
            payload=payload,
        )
        log.info(
            "email %s not sent (attempt %d), retrying: %s",
            notification.id,
            notification.attempts,
            notification.last_error,
        )
    session.add(notification)
