"""Events produced by the referral service on `referral.events` (key: project id).

No personal data: pseudonymous ids and non-identifying facts only (stage, commune code, themes).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts.base import Event, Id

TOPIC = "referral.events"


class ReferralServiceEvent(Event):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "project_id"
    subject_field: ClassVar[str | None] = "project_id"
    project_id: Id
    actor: str | None = Field(default=None, description="Who acted: user:<id>, member:<id>, system")


class ProjectCreated(ReferralServiceEvent):
    type_name: ClassVar[str] = "fr.relais.referral.project_created.v1"
    owner_member_id: Id
    stage: str
    commune: str = Field(description="INSEE commune code")
    themes: list[str] = Field(default_factory=list)
    collective: bool = False


class ProjectUpdated(ReferralServiceEvent):
    type_name: ClassVar[str] = "fr.relais.referral.project_updated.v1"
    stage: str
    commune: str
    themes: list[str] = Field(default_factory=list)
    collective: bool = False


class ProjectErased(ReferralServiceEvent):
    """The project's key was destroyed: its personal data is gone everywhere."""

    type_name: ClassVar[str] = "fr.relais.referral.project_erased.v1"


class ConsentRecorded(ReferralServiceEvent):
    type_name: ClassVar[str] = "fr.relais.referral.consent_recorded.v1"
    consent_id: Id
    text_version: str
    scopes: list[str] = Field(default_factory=list)


class ConsentWithdrawn(ReferralServiceEvent):
    type_name: ClassVar[str] = "fr.relais.referral.consent_withdrawn.v1"
    consent_id: Id


class ReferralEvent(ReferralServiceEvent):
    referral_id: Id
    sender_member_id: Id
    receiver_member_id: Id


class ReferralSent(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.sent.v1"
    offer_id: Id | None = None
    network_id: Id | None = None
    stage: str | None = None
    commune: str | None = Field(default=None, description="INSEE commune code of the project")
    themes: list[str] = Field(default_factory=list)
    redirected_from: Id | None = Field(default=None, description="Referral this one redirects")


class ReferralAccepted(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.accepted.v1"


class ReferralDeclined(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.declined.v1"
    reason: str = Field(description="Coded reason, e.g. hors_territoire, reoriente_ailleurs")
    redirected_to: Id | None = Field(default=None, description="The referral that replaced it")


class ReferralCancelled(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.cancelled.v1"


class ReferralExpired(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.expired.v1"


class ReferralInfoRequested(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.info_requested.v1"


class ReferralInfoProvided(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.info_provided.v1"


class ReferralStarted(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.started.v1"


class ReferralOnHold(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.on_hold.v1"


class ReferralResumed(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.resumed.v1"


class ReferralCompleted(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.completed.v1"
    outcome: str = Field(description="Coded outcome, e.g. structure_creee, financement_obtenu")
    jobs_created: int | None = Field(default=None, ge=0)
    funding_amount_eur: int | None = Field(default=None, ge=0)


class ReferralFailed(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.failed.v1"
    reason: str


class ReferralReminderDue(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.reminder_due.v1"
    days_open: int = Field(ge=0)


class ReferralAssigned(ReferralEvent):
    type_name: ClassVar[str] = "fr.relais.referral.assigned.v1"
    adviser_user_id: Id


class ReferralMessagePosted(ReferralEvent):
    """A message was posted on a referral; its text stays in the referral service."""

    type_name: ClassVar[str] = "fr.relais.referral.message_posted.v1"
    message_id: Id
    author_member_id: Id


class CommandRejected(ReferralServiceEvent):
    """A member tool's command refused for a business reason (it reaches that member's feed)."""

    type_name: ClassVar[str] = "fr.relais.referral.command_rejected.v1"
    member_id: Id
    command_id: Id
    command_type: str
    reason: str
