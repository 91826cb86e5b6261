"""Events produced by the directory service on `directory.events` (key: member id).

Every admin change is an event: together they are the directory's audit trail (`actor` says
who acted: `user:<id>`, `member:<id>` for a member tool, `platform-admin`, `system`). No
personal data: users appear by id and roles only.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Event, Id, Territory

TOPIC = "directory.events"

Capacity = Literal["open", "waitlist", "full"]


class DirectoryEvent(Event):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "member_id"
    subject_field: ClassVar[str | None] = "member_id"
    actor: str | None = Field(default=None, description="Who made the change (audit trail)")


class NetworkEvent(DirectoryEvent):
    """Network changes are keyed by the network id (no member involved)."""

    key_field: ClassVar[str | None] = "network_id"
    subject_field: ClassVar[str | None] = "network_id"
    network_id: Id


class NetworkCreated(NetworkEvent):
    type_name: ClassVar[str] = "fr.relais.directory.network_created.v1"
    name: str
    region: str = Field(description="INSEE région code")


class MemberFacts(DirectoryEvent):
    member_id: Id
    name: str = Field(min_length=1, max_length=200)
    network_ids: list[Id] = Field(default_factory=list)
    commune: str | None = Field(default=None, description="INSEE code of the member's address")
    schemes: list[str] = Field(default_factory=list, description="Codes: starter_ess, dla, ...")
    circle: str | None = Field(default=None, description="premier_cercle or second_cercle")
    national_networks: list[str] = Field(default_factory=list)
    siret: str | None = None


class MemberRegistered(MemberFacts):
    type_name: ClassVar[str] = "fr.relais.directory.member_registered.v1"
    status: Literal["active", "suspended"] = "active"


class MemberUpdated(MemberFacts):
    type_name: ClassVar[str] = "fr.relais.directory.member_updated.v1"


class MemberSuspended(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.member_suspended.v1"
    member_id: Id
    reason: str | None = None


class MemberReactivated(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.member_reactivated.v1"
    member_id: Id


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
    capacity: Capacity = "open"
    project_types: list[str] = Field(default_factory=list, description="Empty: all")
    legal_forms: list[str] = Field(default_factory=list, description="Empty: all")
    max_structure_age_months: int | None = None
    employer: bool | None = None
    cost: str | None = None
    modes_accueil: list[str] = Field(default_factory=list)
    updated_at: str | None = Field(default=None, description="RFC 3339")


class OfferUpdated(OfferPublished):
    type_name: ClassVar[str] = "fr.relais.directory.offer_updated.v1"


class OfferWithdrawn(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_withdrawn.v1"


class OfferCapacityChanged(OfferEvent):
    type_name: ClassVar[str] = "fr.relais.directory.offer_capacity_changed.v1"
    capacity: Capacity


class OfferFreshnessReminder(OfferEvent):
    """The offer was not updated for months: its owners are asked to check it."""

    type_name: ClassVar[str] = "fr.relais.directory.offer_freshness_reminder.v1"
    last_updated: str
    months_without_update: int = Field(default=6, ge=1)


class UserEvent(DirectoryEvent):
    """Users of a member are keyed by the member; network-level users by their network."""

    key_field: ClassVar[str | None] = "scope_id"
    subject_field: ClassVar[str | None] = "user_id"
    scope_id: Id = Field(description="The user's member id, else network id, else 'platform'")
    user_id: Id
    member_id: Id | None = None
    network_id: Id | None = None


class UserInvited(UserEvent):
    type_name: ClassVar[str] = "fr.relais.directory.user_invited.v1"
    roles: list[str] = Field(default_factory=list)


class UserActivated(UserEvent):
    type_name: ClassVar[str] = "fr.relais.directory.user_activated.v1"


class UserDeactivated(UserEvent):
    type_name: ClassVar[str] = "fr.relais.directory.user_deactivated.v1"


class ApiKeyEvent(DirectoryEvent):
    member_id: Id
    key_id: Id
    label: str


class ApiKeyCreated(ApiKeyEvent):
    type_name: ClassVar[str] = "fr.relais.directory.api_key_created.v1"


class ApiKeyRevoked(ApiKeyEvent):
    type_name: ClassVar[str] = "fr.relais.directory.api_key_revoked.v1"


class CommandKeyRegistered(DirectoryEvent):
    """A public key a member's tools sign their Kafka commands with (public: safe to share)."""

    type_name: ClassVar[str] = "fr.relais.directory.command_key_registered.v1"
    member_id: Id
    key_id: Id
    public_key: str = Field(description="Ed25519 raw public key, base64url")


class CommandKeyRevoked(DirectoryEvent):
    type_name: ClassVar[str] = "fr.relais.directory.command_key_revoked.v1"
    member_id: Id
    key_id: Id


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
