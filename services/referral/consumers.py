"""Referral subscriptions, routing declared as data."""

from __future__ import annotations

from datetime import timedelta

from contracts.events import directory as d
from services.kit.consumer import Subscription
from services.referral.commands import command_subscription
from services.referral.handlers import directory_copy as copy
from services.referral.handlers.common import Deps

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


def subscriptions(deps: Deps) -> list[Subscription]:
    """Every subscription of the service: the directory copy, and the members' signed commands
    on `referral.commands` (which need the use cases' collaborators)."""
    freshness = timedelta(minutes=deps.settings.command_freshness_minutes)
    return [*SUBSCRIPTIONS, command_subscription(deps, freshness=freshness)]
