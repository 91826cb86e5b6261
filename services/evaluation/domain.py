"""Pure evaluation rules (no I/O): how an event changes the counters."""

from __future__ import annotations

from contracts.events.referral import ReferralSent


def referral_counter_deltas(evt: ReferralSent) -> dict[str, tuple[int, int]]:
    """member id -> (sent delta, received delta)."""
    return {evt.sender_member_id: (1, 0), evt.receiver_member_id: (0, 1)}
