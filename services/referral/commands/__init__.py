"""Member commands over Kafka: signed by the member's registered Ed25519 key, verified here,
run through the same use cases as HTTP. The scheme: `signing`; the consumer: `handler`;
the replay guard and audit table: `models`. Member developers: docs/commands.md.
"""

from services.referral.commands.handler import (
    ACTIONS,
    PURPOSE,
    CommandHandler,
    command_subscription,
)
from services.referral.commands.models import COMMAND_MODELS, MemberCommand

__all__ = [
    "ACTIONS",
    "COMMAND_MODELS",
    "PURPOSE",
    "CommandHandler",
    "MemberCommand",
    "command_subscription",
]
