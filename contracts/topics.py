"""The topic registry: every topic, its key rule and its producer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    producer: str
    description: str
    partitions: int | None = None  # None: the runtime's default partition count


DIRECTORY_EVENTS = Topic(
    "directory.events", "member id", "directory", "Members, offers, users, search statistics"
)
REFERRAL_EVENTS = Topic(
    "referral.events", "project id", "referral", "Projects, consent, the referral lifecycle"
)
REFERRAL_COMMANDS = Topic(
    "referral.commands", "project id", "member tools", "Signed commands from members' own tools"
)
EVALUATION_EVENTS = Topic(
    "evaluation.events", "project id", "evaluation", "Evaluations, follow-ups, reports"
)
NOTIFY_EVENTS = Topic(
    "notify.events", "delivery id", "notify", "Delivery outcomes of emails and webhooks"
)

TOPICS: tuple[Topic, ...] = (
    DIRECTORY_EVENTS,
    REFERRAL_EVENTS,
    REFERRAL_COMMANDS,
    EVALUATION_EVENTS,
    NOTIFY_EVENTS,
)

DLQ_SUFFIX = ".dlq"


def dlq_topic(name: str) -> str:
    return name + DLQ_SUFFIX


def member_feed_topic(member_id: str) -> str:
    """Per-member fan-out topic (one partition, created with the member)."""
    return f"member.{member_id}.feed"


MEMBER_FEED = Topic(
    "member.{member_id}.feed",
    "project id",
    "notify",
    "What concerns one member, no personal data",
    1,
)
