"""The referral lifecycle: send, act (accept, decline, ...), redirect, assign, messages."""

from services.referral.handlers.referrals.actions import act, redirect
from services.referral.handlers.referrals.conversation import assign, messages_of, post_message
from services.referral.handlers.referrals.sending import CHAIN_STATUSES, may_orient, send_referral
from services.referral.handlers.referrals.steps import EXPIRY_TIMER, REMINDER_TIMER, apply_action

__all__ = [
    "CHAIN_STATUSES",
    "EXPIRY_TIMER",
    "REMINDER_TIMER",
    "act",
    "apply_action",
    "assign",
    "may_orient",
    "messages_of",
    "post_message",
    "redirect",
    "send_referral",
]
