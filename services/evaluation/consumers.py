"""Evaluation subscriptions, routing declared as data: every projected type, one handler."""

from __future__ import annotations

from contracts.events import directory as d
from contracts.events import referral as r
from services.evaluation.handlers.live import on_event
from services.kit.consumer import Subscription

REFERRAL_TYPES = (
    r.ReferralSent,
    r.ReferralAccepted,
    r.ReferralDeclined,
    r.ReferralInfoRequested,
    r.ReferralCancelled,
    r.ReferralExpired,
    r.ReferralStarted,
    r.ReferralCompleted,
    r.ReferralFailed,
)
DIRECTORY_TYPES = (d.MemberRegistered, d.MemberUpdated, d.SearchStatistics)

SUBSCRIPTIONS = [
    Subscription(
        topic=r.TOPIC,
        purpose="referral-indicators",
        routes={model: on_event for model in REFERRAL_TYPES},
    ),
    Subscription(
        topic=d.TOPIC,
        purpose="directory-indicators",
        routes={model: on_event for model in DIRECTORY_TYPES},
    ),
]
