"""Referral subscriptions, routing declared as data."""

from __future__ import annotations

from contracts.events import directory as d
from services.kit.consumer import Subscription
from services.referral.handlers import directory_copy as copy

SUBSCRIPTIONS = [
    Subscription(
        topic=d.TOPIC,
        purpose="directory-copy",
        routes={
            d.MemberRegistered: copy.on_member_registered,
            d.MemberUpdated: copy.on_member_updated,
            d.MemberSuspended: copy.on_member_suspended,
            d.MemberReactivated: copy.on_member_reactivated,
            d.OfferPublished: copy.on_offer_published,
            d.OfferUpdated: copy.on_offer_published,
            d.OfferWithdrawn: copy.on_offer_withdrawn,
            d.OfferCapacityChanged: copy.on_offer_capacity_changed,
            d.CommandKeyRegistered: copy.on_command_key_registered,
            d.CommandKeyRevoked: copy.on_command_key_revoked,
        },
    )
]
