"""Commands that members' tools send on `referral.commands` (key: project id), signed.

One command per action a party may take on a referral: the receiver accepts, declines, asks
for information, starts, holds, resumes, completes, fails and assigns; the sender provides the
requested information and cancels. Every command carries, from `contracts.base.Command`, a
unique `command_id` (also the record's `ce_id`), its `issued_at` time, the `member_id` whose
registered Ed25519 key signed it, and the base64url `signature`. How to sign is in
docs/commands.md; the referral service verifies in `services.referral.commands`.

A command refused for a business reason gives `fr.relais.referral.command_rejected.v1` on
`referral.events`; one whose signature does not verify goes to `referral.commands.dlq`.
Codes (decline reasons, outcomes, failure reasons) are the ASCII codes of the HTTP API.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts.base import Command, Id

TOPIC = "referral.commands"


class ReferralCommand(Command):
    """A signed command about one referral of one project (the record key is the project)."""

    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "project_id"
    subject_field: ClassVar[str | None] = "referral_id"
    project_id: Id
    referral_id: Id


class AcceptReferral(ReferralCommand):
    """The receiver accepts the referral."""

    type_name: ClassVar[str] = "fr.relais.referral.command.accept.v1"


class DeclineReferral(ReferralCommand):
    """The receiver declines the referral with a coded reason."""

    type_name: ClassVar[str] = "fr.relais.referral.command.decline.v1"
    reason: str = Field(
        description="hors_territoire, hors_stade, capacite_atteinte, dossier_incomplet, "
        "hors_champ_ess, reoriente_ailleurs or autre"
    )


class RequestReferralInfo(ReferralCommand):
    """The receiver asks the sender for more information (the expiry clock stops)."""

    type_name: ClassVar[str] = "fr.relais.referral.command.request_info.v1"


class ProvideReferralInfo(ReferralCommand):
    """The sender answers a request for information (the referral is sent again)."""

    type_name: ClassVar[str] = "fr.relais.referral.command.provide_info.v1"


class StartReferral(ReferralCommand):
    """The receiver starts the accompaniment."""

    type_name: ClassVar[str] = "fr.relais.referral.command.start.v1"


class HoldReferral(ReferralCommand):
    """The receiver puts the accompaniment on hold."""

    type_name: ClassVar[str] = "fr.relais.referral.command.hold.v1"


class ResumeReferral(ReferralCommand):
    """The receiver resumes an accompaniment on hold."""

    type_name: ClassVar[str] = "fr.relais.referral.command.resume.v1"


class CompleteReferral(ReferralCommand):
    """The receiver completes the accompaniment with a coded outcome and figures."""

    type_name: ClassVar[str] = "fr.relais.referral.command.complete.v1"
    outcome: str = Field(
        description="structure_creee, activite_lancee, financement_obtenu, projet_abandonne, "
        "reoriente or autre"
    )
    jobs_created: int | None = Field(default=None, ge=0)
    funding_amount_eur: int | None = Field(default=None, ge=0)


class FailReferral(ReferralCommand):
    """The receiver ends the accompaniment as failed, with a coded reason."""

    type_name: ClassVar[str] = "fr.relais.referral.command.fail.v1"
    reason: str = Field(description="porteur_injoignable, abandon or autre")


class CancelReferral(ReferralCommand):
    """The sender cancels the referral (until it completes or fails)."""

    type_name: ClassVar[str] = "fr.relais.referral.command.cancel.v1"


class AssignReferral(ReferralCommand):
    """The receiver assigns (or reassigns) the referral to one of its advisers."""

    type_name: ClassVar[str] = "fr.relais.referral.command.assign.v1"
    adviser_user_id: Id


COMMANDS: tuple[type[ReferralCommand], ...] = (
    AcceptReferral,
    DeclineReferral,
    RequestReferralInfo,
    ProvideReferralInfo,
    StartReferral,
    HoldReferral,
    ResumeReferral,
    CompleteReferral,
    FailReferral,
    CancelReferral,
    AssignReferral,
)
