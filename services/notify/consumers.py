"""Notify subscriptions, routing declared as data."""

from __future__ import annotations

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralSent
from services.kit.consumer import Subscription
from services.notify import handlers


def subscriptions(target: handlers.WebhookTarget) -> list[Subscription]:
    return [
        Subscription(
            topic=REFERRAL_TOPIC,
            purpose="referral-webhooks",
            routes={ReferralSent: handlers.on_referral_sent(target)},
        )
    ]
