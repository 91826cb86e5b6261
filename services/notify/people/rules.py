"""Routing rules as data: for each event type, who is told, through which channel, and which
members' change feeds it reaches. Every type in contracts/registry.py is either in `RULES`
or in `NO_PERSON` with the reason (a unit test checks it, so a new type cannot be forgotten).

Recipients are principal subjects, resolved at event time from the event and the referral
projection (`domain.recipients`), and turned into addresses only at send time:

* `user:<id>` — a user (an adviser, an operator): email from the directory, in-app feed;
* `member:<id>` — a member's contact: its contact email, and the in-app feed every principal
  of that member reads;
* `network:<id>` — a network's operators: the network's operator emails and its
  `network_operator` users;
* `porteur:<project id>` — the porteur: an email only, the address fetched from the referral
  service at send time, only while their consent is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Who(StrEnum):
    receiver = "receiver"  # the receiving side: its assigned adviser, else the member's contact
    receiver_contact = "receiver_contact"  # the receiving member's contact, always
    sender = "sender"  # the sending adviser (who sent it), else the sending member's contact
    operators = "operators"  # the network operators of the referral's (or member's) networks
    porteur = "porteur"  # the porteur, where an active consent allows it
    member = "member"  # the event's `member_id` (an offer's member, a command's member...)
    assigned_adviser = "assigned_adviser"  # the event's `adviser_user_id`
    other_party = "other_party"  # of a message: the side that did not write it
    follow_up = "follow_up"  # the accompanying adviser if known, else the member's contact
    endpoint_owner = "endpoint_owner"  # the owner of a disabled webhook endpoint


class Channel(StrEnum):
    email = "email"
    in_app = "in_app"


EMAIL_AND_APP = (Channel.email, Channel.in_app)
APP = (Channel.in_app,)
EMAIL = (Channel.email,)

# Member feed sources: fields of the event naming a member, or "project_owner" (projection).
PROJECT_OWNER = "project_owner"
REFERRAL_PARTIES = ("sender_member_id", "receiver_member_id")


@dataclass(frozen=True)
class Tell:
    who: Who
    channels: tuple[Channel, ...]


@dataclass(frozen=True)
class Rule:
    tell: tuple[Tell, ...] = ()
    feed: tuple[str, ...] = ()  # member feed sources (see above)


def _r(*tell: Tell, feed: tuple[str, ...] = REFERRAL_PARTIES) -> Rule:
    return Rule(tell=tell, feed=feed)


def _t(who: Who, channels: tuple[Channel, ...] = EMAIL_AND_APP) -> Tell:
    return Tell(who, channels)


_REF = "fr.relais.referral."
_DIR = "fr.relais.directory."
_EVAL = "fr.relais.evaluation."

RULES: dict[str, Rule] = {
    # --- the referral lifecycle ----------------------------------------------------------
    _REF + "sent.v1": _r(_t(Who.receiver_contact)),
    _REF + "accepted.v1": _r(_t(Who.sender), _t(Who.porteur, EMAIL)),
    _REF + "declined.v1": _r(_t(Who.sender)),
    _REF + "cancelled.v1": _r(_t(Who.receiver)),
    _REF + "expired.v1": _r(_t(Who.sender), _t(Who.operators)),
    _REF + "info_requested.v1": _r(_t(Who.sender)),
    _REF + "info_provided.v1": _r(_t(Who.receiver)),
    _REF + "started.v1": _r(_t(Who.sender, APP)),
    _REF + "on_hold.v1": _r(_t(Who.sender, APP)),
    _REF + "resumed.v1": _r(_t(Who.sender, APP)),
    _REF + "completed.v1": _r(_t(Who.sender)),
    _REF + "failed.v1": _r(_t(Who.sender)),
    _REF + "reminder_due.v1": _r(_t(Who.receiver), _t(Who.operators)),
    _REF + "assigned.v1": _r(_t(Who.assigned_adviser)),
    _REF + "message_posted.v1": _r(_t(Who.other_party)),
    _REF + "command_rejected.v1": _r(_t(Who.member, APP), feed=("member_id",)),
    # --- projects: the owner's tools follow them in its feed -------------------------------
    _REF + "project_created.v1": _r(feed=("owner_member_id",)),
    _REF + "project_updated.v1": _r(feed=(PROJECT_OWNER,)),
    _REF + "project_erased.v1": _r(feed=(PROJECT_OWNER,)),
    _REF + "consent_recorded.v1": _r(feed=(PROJECT_OWNER,)),
    _REF + "consent_withdrawn.v1": _r(feed=(PROJECT_OWNER,)),
    # --- the directory ---------------------------------------------------------------------
    _DIR + "member_registered.v1": _r(feed=("member_id",)),
    _DIR + "member_updated.v1": _r(feed=("member_id",)),
    _DIR + "member_suspended.v1": _r(_t(Who.member), _t(Who.operators), feed=("member_id",)),
    _DIR + "member_reactivated.v1": _r(_t(Who.member), _t(Who.operators, APP), feed=("member_id",)),
    _DIR + "offer_published.v1": _r(feed=("member_id",)),
    _DIR + "offer_updated.v1": _r(feed=("member_id",)),
    _DIR + "offer_withdrawn.v1": _r(feed=("member_id",)),
    _DIR + "offer_capacity_changed.v1": _r(feed=("member_id",)),
    _DIR + "offer_freshness_reminder.v1": _r(_t(Who.member), feed=("member_id",)),
    _DIR + "api_key_created.v1": _r(_t(Who.member, APP), feed=("member_id",)),
    _DIR + "api_key_revoked.v1": _r(_t(Who.member, APP), feed=("member_id",)),
    _DIR + "command_key_registered.v1": _r(_t(Who.member, APP), feed=("member_id",)),
    _DIR + "command_key_revoked.v1": _r(_t(Who.member, APP), feed=("member_id",)),
    _DIR + "user_activated.v1": _r(feed=("member_id",)),
    _DIR + "user_deactivated.v1": _r(feed=("member_id",)),
    # --- evaluation ------------------------------------------------------------------------
    _EVAL + "evaluation_recorded.v1": _r(feed=("member_id",)),
    _EVAL + "follow_up_due.v1": _r(_t(Who.follow_up), feed=("member_id",)),
    _EVAL + "follow_up_answered.v1": _r(feed=("member_id",)),
    # --- notify's own ----------------------------------------------------------------------
    "fr.relais.notify.endpoint_disabled.v1": _r(_t(Who.endpoint_owner), feed=("owner_member_id",)),
}

_COMMAND = "a member tool's signed command: its outcome reaches people as a referral event"
NO_PERSON: dict[str, str] = {
    _DIR + "network_created.v1": "a network is created by the platform admin, nobody to tell",
    _DIR + "user_invited.v1": (
        "the directory hands the one-time invitation link to the inviting admin; "
        "notify never sees the link, so it cannot send it"
    ),
    _DIR + "search_statistics.v1": "aggregate statistics, about no one",
    "fr.relais.notify.webhook_delivered.v1": "a delivery outcome for partner systems' logs",
    "fr.relais.notify.webhook_failed.v1": (
        "one delivery's outcome; its owner is told when the endpoint is disabled"
    ),
    "fr.relais.notify.email_sent.v1": "notify's own outcome: routing it would loop",
    **{
        f"{_REF}command.{name}.v1": _COMMAND
        for name in (
            "accept",
            "assign",
            "cancel",
            "complete",
            "decline",
            "fail",
            "hold",
            "provide_info",
            "request_info",
            "resume",
            "start",
        )
    },
}


def kind_of(type_name: str) -> str:
    """`fr.relais.referral.sent.v1` -> `referral.sent`: what preferences are set for."""
    parts = type_name.split(".")
    return ".".join(parts[2:-1]) if len(parts) > 3 else type_name


def kinds_with_people() -> list[str]:
    """The kinds a person may receive (what `/v1/preferences` lets them tune)."""
    return sorted({kind_of(t) for t, rule in RULES.items() if rule.tell})
