"""Every event and command type, declared as data: type name -> model, topic, stability.

An event type is a `draft` until the issue that owns it lands, then `stable`: from then on
its JSON Schema may only change compatibly (see contracts.compat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.base import Event
from contracts.events import commands, directory, evaluation, notify, referral

Stability = Literal["draft", "stable"]


@dataclass(frozen=True)
class EventSpec:
    model: type[Event]
    stability: Stability
    owner: str  # the issue that owns the type

    @property
    def type_name(self) -> str:
        return self.model.type_name

    @property
    def topic(self) -> str:
        return self.model.topic


def _specs(
    models: list[type[Event]], owner: str, stability: Stability = "draft"
) -> list[EventSpec]:
    return [EventSpec(model, stability, owner) for model in models]


_ALL: list[EventSpec] = [
    *_specs(
        [
            directory.NetworkCreated,
            directory.MemberRegistered,
            directory.MemberUpdated,
            directory.MemberSuspended,
            directory.MemberReactivated,
            directory.OfferPublished,
            directory.OfferUpdated,
            directory.OfferWithdrawn,
            directory.OfferCapacityChanged,
            directory.OfferFreshnessReminder,
            directory.UserInvited,
            directory.UserActivated,
            directory.UserDeactivated,
            directory.ApiKeyCreated,
            directory.ApiKeyRevoked,
            directory.CommandKeyRegistered,
            directory.CommandKeyRevoked,
            directory.SearchStatistics,
        ],
        owner="directory (issue 3)",
        stability="stable",  # issue 3 landed: from now on, compatible changes only
    ),
    *_specs(
        [
            referral.ProjectCreated,
            referral.ProjectUpdated,
            referral.ProjectErased,
            referral.ConsentRecorded,
            referral.ConsentWithdrawn,
            referral.ReferralSent,
            referral.ReferralAccepted,
            referral.ReferralDeclined,
            referral.ReferralCancelled,
            referral.ReferralExpired,
            referral.ReferralInfoRequested,
            referral.ReferralInfoProvided,
            referral.ReferralStarted,
            referral.ReferralOnHold,
            referral.ReferralResumed,
            referral.ReferralCompleted,
            referral.ReferralFailed,
            referral.ReferralReminderDue,
            referral.ReferralAssigned,
            referral.ReferralMessagePosted,
            referral.CommandRejected,
            *commands.COMMANDS,
        ],
        owner="referral (issue 4)",
    ),
    *_specs(
        [evaluation.EvaluationRecorded, evaluation.FollowUpDue, evaluation.FollowUpAnswered],
        owner="evaluation (issue 6)",
    ),
    *_specs(
        [notify.WebhookDelivered, notify.WebhookFailed, notify.EmailSent, notify.EndpointDisabled],
        owner="notify (issue 5)",
    ),
]

REGISTRY: dict[str, EventSpec] = {spec.type_name: spec for spec in _ALL}
_BY_MODEL: dict[type[Event], EventSpec] = {spec.model: spec for spec in _ALL}

if len(REGISTRY) != len(_ALL):  # pragma: no cover - guards a copy-paste slip at import
    raise RuntimeError("duplicate CloudEvents type name in contracts.registry")


def spec_for_type(type_name: str) -> EventSpec | None:
    return REGISTRY.get(type_name)


def spec_for_model(model: type[Event]) -> EventSpec:
    return _BY_MODEL[model]
