"""Events produced by the directory service on `directory.events` (key: member id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Event, Id, Territory

TOPIC = "directory.events"


class DirectoryEvent(Event):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "member_id"
    subject_field: ClassVar[str | None] = "member_id"


class MemberRegistered(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.member_registered.v1"
    member_id: Id
    name: str = Field(min_length=1, max_length=200)
    network_ids: list[Id] = Field(default_factory=list)
    commune: str | None = Field(default=None, description="INSEE code of the member's address")
    schemes: list[str] = Field(default_factory=list, description="Codes: starter_ess, dla, ...")
    status: Literal["active", "suspended"] = "active"


class MemberUpdated(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.member_updated.v1"
    member_id: Id
    name: str = Field(min_length=1, max_length=200)
    network_ids: list[Id] = Field(default_factory=list)
    schemes: list[str] = Field(default_factory=list)


class MemberSuspended(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.member_suspended.v1"
    member_id: Id
    reason: str | None = None


class OfferEvent(DirectoryEvent):
    member_id: Id
    offer_id: Id


class OfferPublished(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_published.v1"
    title: str
    kind: str
    stages: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    territories: list[Territory] = Field(default_factory=list)
    required_information: list[str] = Field(default_factory=list)
    capacity: Literal["open", "waitlist", "full"] = "open"


class OfferUpdated(OfferPublished):
    type_name: ClassVar[str] = "fr.relais.directory.offer_updated.v1"


class OfferWithdrawn(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_withdrawn.v1"


class OfferCapacityChanged(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_capacity_changed.v1"
    capacity: Literal["open", "waitlist", "full"]


class OfferFreshnessReminder(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_freshness_reminder.v1"
    last_updated: str


class UserInvited(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.user_invited.v1"
    member_id: Id
    user_id: Id
    roles: list[str] = Field(default_factory=list)


class UserDeactivated(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.user_deactivated.v1"
    member_id: Id
    user_id: Id


class SearchStatistics(DirectoryEvent):
    """Aggregated match searches over a period; small counts are suppressed. No key."""

    type_name: ClassVar[str] = "fr.relais.directory.search_statistics.v1"
    key_field: ClassVar[str | None] = None
    subject_field: ClassVar[str | None] = None
    period_start: str
    period_end: str
    territory: Territory
    stage: str | None = None
    searches: int = Field(ge=0)
    searches_without_result: int = Field(ge=0)
