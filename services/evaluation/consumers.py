"""Evaluation subscriptions, routing declared as data."""

from __future__ import annotations

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralSent
from services.evaluation import handlers
from services.kit.consumer import Subscription

SUBSCRIPTIONS = [
    Subscription(
        topic=REFERRAL_TOPIC,
        purpose="referral-indicators",
        routes={ReferralSent: handlers.on_referral_sent},
    )
]
