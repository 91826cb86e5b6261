"""Pure referral rules (no I/O). The full lifecycle comes with the referral issue."""

from __future__ import annotations

from services.kit.errors import ApiError


def check_can_send(
    sender_member_id: str,
    receiver_member_id: str,
    receiver_known: bool,
    receiver_status: str | None,
) -> None:
    if sender_member_id == receiver_member_id:
        raise ApiError(422, "referral.self")
    if not receiver_known:
        raise ApiError(422, "member.unknown", id=receiver_member_id)
    if receiver_status != "active":
        raise ApiError(409, "conflict", reason="la structure destinataire est suspendue")
