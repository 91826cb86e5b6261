"""Referral subscriptions, routing declared as data."""

from __future__ import annotations

from contracts.events.directory import TOPIC as DIRECTORY_TOPIC
from contracts.events.directory import MemberRegistered, MemberSuspended, MemberUpdated
from services.kit.consumer import Subscription
from services.referral import handlers

SUBSCRIPTIONS = [
    Subscription(
        topic=DIRECTORY_TOPIC,
        purpose="directory-members",
        routes={
            MemberRegistered: handlers.on_member_registered,
            MemberUpdated: handlers.on_member_updated,
            MemberSuspended: handlers.on_member_suspended,
        },
    )
]
