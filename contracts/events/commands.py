"""Commands that members' tools send on `referral.commands` (key: project id), signed."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts.base import Command, Id

TOPIC = "referral.commands"


class ReferralCommand(Command):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "project_id"
    subject_field: ClassVar[str | None] = "referral_id"
    project_id: Id
    referral_id: Id


class AcceptReferral(ReferralCommand):
    type_name: ClassVar[str] = "fr.relais.referral.command.accept.v1"


class DeclineReferral(ReferralCommand):
    type_name: ClassVar[str] = "fr.relais.referral.command.decline.v1"
    reason: str
    message: str | None = Field(default=None, max_length=2000)


class StartReferral(ReferralCommand):
    type_name: ClassVar[str] = "fr.relais.referral.command.start.v1"


class CompleteReferral(ReferralCommand):
    type_name: ClassVar[str] = "fr.relais.referral.command.complete.v1"
    outcome: str
    jobs_created: int | None = Field(default=None, ge=0)
