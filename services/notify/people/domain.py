"""Pure rules of the people channels: who is told, stable ids, digest days. No I/O."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from services.kit.clock import PARIS, paris_day
from services.notify.people.rules import PROJECT_OWNER, Channel, Rule, Who


@dataclass(frozen=True)
class Facts:
    """What routing knows beside the event: the referral and member projections."""

    sender_member_id: str | None = None
    receiver_member_id: str | None = None
    sender_user_id: str | None = None
    adviser_user_id: str | None = None
    network_ids: tuple[str, ...] = ()
    project_id: str | None = None
    project_owner: str | None = None


def _user(user_id: str | None) -> str | None:
    if not user_id:
        return None
    return user_id if user_id.startswith("user:") else f"user:{user_id}"


def _member(member_id: str | None) -> str | None:
    return f"member:{member_id}" if member_id else None


def subjects_for(who: Who, data: dict[str, Any], facts: Facts) -> list[str]:
    """The principal subjects `who` names for this event (possibly none)."""
    found: list[str | None]
    match who:
        case Who.receiver:
            found = [_user(facts.adviser_user_id) or _member(facts.receiver_member_id)]
        case Who.receiver_contact:
            found = [_member(facts.receiver_member_id)]
        case Who.sender:
            found = [_user(facts.sender_user_id) or _member(facts.sender_member_id)]
        case Who.operators:
            found = [f"network:{n}" for n in facts.network_ids]
        case Who.porteur:
            found = [f"porteur:{facts.project_id}" if facts.project_id else None]
        case Who.member:
            found = [_member(data.get("member_id"))]
        case Who.assigned_adviser:
            found = [_user(data.get("adviser_user_id"))]
        case Who.other_party:
            author = data.get("author_member_id")
            if author == facts.sender_member_id:
                found = [_user(facts.adviser_user_id) or _member(facts.receiver_member_id)]
            else:
                found = [_user(facts.sender_user_id) or _member(facts.sender_member_id)]
        case Who.follow_up:
            found = [_user(data.get("adviser_user_id")) or _member(data.get("member_id"))]
        case Who.endpoint_owner:
            found = [_user(data.get("owner_user_id")) or _member(data.get("owner_member_id"))]
            if found == [None]:
                found = [f"network:{n}" for n in data.get("owner_network_ids") or []]
    return list(dict.fromkeys(s for s in found if s))


def recipients(rule: Rule, data: dict[str, Any], facts: Facts) -> dict[str, set[Channel]]:
    """subject -> channels, merged over the rule's lines (one subject is told once)."""
    told: dict[str, set[Channel]] = {}
    for tell in rule.tell:
        for subject in subjects_for(tell.who, data, facts):
            told.setdefault(subject, set()).update(tell.channels)
    return told


def feed_members(rule: Rule, data: dict[str, Any], facts: Facts) -> list[str]:
    """The members whose change feed receives this event."""
    members = [
        facts.project_owner if source == PROJECT_OWNER else data.get(source) for source in rule.feed
    ]
    return list(dict.fromkeys(m for m in members if isinstance(m, str) and m))


# --- stable ids ---------------------------------------------------------------------------
def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def notification_id(event_id: str, subject: str) -> str:
    return "ntf_" + _digest(event_id, subject)


def feed_item_id(event_id: str, subject: str) -> str:
    return "inapp_" + _digest(event_id, subject)


def digest_key(subject: str, day: str) -> str:
    return f"{subject}|{day}"


def digest_message_key(key: str) -> str:
    return "dgst_" + _digest(key)


def message_id(notification: str, domain: str) -> str:
    """RFC 5322 Message-ID, stable per notification: a retried send keeps it."""
    return f"<{notification}@{domain}>"


# --- daily digests -----------------------------------------------------------------------
def digest_slot(now: datetime, hour: int) -> tuple[str, datetime]:
    """(the Paris day `now` belongs to, when that day's digest goes: next day at `hour`)."""
    day = paris_day(now)
    due_local = datetime.combine(day + timedelta(days=1), time(hour=hour), tzinfo=PARIS)
    return day.isoformat(), due_local.astimezone(UTC)


# --- email retries -------------------------------------------------------------------------
EMAIL_RETRY_SECONDS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)


def email_retry_delay(attempts: int) -> timedelta:
    index = min(max(attempts - 1, 0), len(EMAIL_RETRY_SECONDS) - 1)
    return timedelta(seconds=EMAIL_RETRY_SECONDS[index])


# --- one-click unsubscribe ------------------------------------------------------------------
def unsubscribe_token(secret: str, subject: str, kind: str) -> str:
    mac = hmac.new(secret.encode(), f"{subject}|{kind}".encode(), hashlib.sha256).hexdigest()
    return f"{subject}|{kind}|{mac[:32]}"


def check_unsubscribe_token(secret: str, token: str) -> tuple[str, str] | None:
    subject, _, rest = token.partition("|")
    kind, _, mac = rest.rpartition("|")
    if not subject or not kind or not mac:
        return None
    expected = unsubscribe_token(secret, subject, kind).rsplit("|", 1)[1]
    return (subject, kind) if hmac.compare_digest(mac, expected) else None
