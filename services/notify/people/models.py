"""Tables of notify's people channels (prefix `notify_people_`) and their API shapes.

No personal data: recipients are principal subjects (`user:<id>`, `member:<id>`,
`network:<id>`, `porteur:<project id>`); addresses are fetched at send time, never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime

Mode = Literal["immediate", "daily", "off"]
Language = Literal["fr", "en"]


# --- projections of other services' events (what routing needs) --------------------------
class ReferralView(SQLModel, table=True):
    __tablename__ = "notify_people_referral"

    referral_id: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(max_length=64, index=True)
    sender_member_id: str = Field(max_length=64)
    receiver_member_id: str = Field(max_length=64)
    sender_user_id: str | None = Field(default=None, max_length=64)
    adviser_user_id: str | None = Field(default=None, max_length=64)
    network_id: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=40)
    commune: str | None = Field(default=None, max_length=9)
    status: str = Field(default="sent", max_length=30)


class ProjectView(SQLModel, table=True):
    __tablename__ = "notify_people_project"

    project_id: str = Field(primary_key=True, max_length=64)
    owner_member_id: str = Field(max_length=64)
    stage: str | None = Field(default=None, max_length=40)
    commune: str | None = Field(default=None, max_length=9)


class MemberView(SQLModel, table=True):
    """Members' public facts (their names are public in the directory)."""

    __tablename__ = "notify_people_member"

    member_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    network_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


# --- preferences ----------------------------------------------------------------------------
class Preference(SQLModel, table=True):
    """A subject's mode for one kind (`*` = its default for every kind)."""

    __tablename__ = "notify_people_preference"

    subject: str = Field(primary_key=True, max_length=100)
    kind: str = Field(primary_key=True, max_length=100)
    mode: str = Field(max_length=12)


class RecipientSettings(SQLModel, table=True):
    __tablename__ = "notify_people_recipient"

    subject: str = Field(primary_key=True, max_length=100)
    language: str = Field(default="fr", max_length=2)


class PreferencesPublic(SQLModel):
    subject: str
    language: Language = "fr"
    default: Mode = "immediate"
    kinds: dict[str, Mode] = Field(default_factory=dict)
    available_kinds: list[str] = Field(default_factory=list)


class PreferencesUpdate(SQLModel):
    """Only what is sent changes; a kind set to null goes back to the default."""

    language: Language | None = None
    default: Mode | None = None
    kinds: dict[str, Mode | None] = Field(default_factory=dict)


# --- email notifications --------------------------------------------------------------------
class Notification(SQLModel, table=True):
    """One email to one subject about one event. Its id is stable per (event, subject), so a
    redelivered event or a retried send keeps the same `Message-ID`."""

    __tablename__ = "notify_people_notification"

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=100, index=True)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=200)
    kind: str = Field(max_length=100)
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    mode: str = Field(max_length=12)  # immediate | daily
    digest_key: str | None = Field(default=None, max_length=140, index=True)
    status: str = Field(default="pending", max_length=20)  # pending|sent|failed|no_address
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


# --- in-app feed ------------------------------------------------------------------------------
class FeedItem(SQLModel, table=True):
    __tablename__ = "notify_people_feed_item"

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=100, index=True)
    event_id: str = Field(max_length=64)
    kind: str = Field(max_length=100)
    title: str = Field(max_length=300)
    link: str | None = Field(default=None, max_length=500)
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    read_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class FeedItemPublic(SQLModel):
    id: str
    kind: str
    title: str
    link: str | None
    context: dict[str, Any]
    created_at: datetime
    read: bool


class FeedPage(SQLModel):
    items: list[FeedItemPublic]
    unread: int


# --- per-member change feed (the same items as `member.<id>.feed`) ---------------------------
class MemberFeedItem(SQLModel, table=True):
    __tablename__ = "notify_people_member_feed"
    __table_args__ = (UniqueConstraint("member_id", "source_event_id", name="uq_member_feed_src"),)

    seq: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(max_length=64, index=True)
    source_event_id: str = Field(max_length=64)
    event_id: str = Field(max_length=64, unique=True)  # the ce_id on the member's topic
    type: str = Field(max_length=200)
    subject: str | None = Field(default=None, max_length=200)
    key: str | None = Field(default=None, max_length=200)
    time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MemberFeedEntry(SQLModel):
    cursor: str
    id: str
    type: str
    source: str = "/relais/notify"
    subject: str | None
    time: datetime
    data: dict[str, Any]


class MemberFeedPage(SQLModel):
    items: list[MemberFeedEntry]
    next: str | None = Field(
        description="Pass as `after` to read on (the same cursor when nothing is new yet)"
    )


MODELS: list[type[SQLModel]] = [
    ReferralView,
    ProjectView,
    MemberView,
    Preference,
    RecipientSettings,
    Notification,
    FeedItem,
    MemberFeedItem,
]
