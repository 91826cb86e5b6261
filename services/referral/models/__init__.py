"""Referral tables and API shapes."""

from sqlmodel import SQLModel

from services.referral.models.ids import new_id
from services.referral.models.porteur import (
    PorteurLink,
    SelfReferralAttempt,
    SelfReferralForm,
    SelfReferralReceipt,
)
from services.referral.models.projects import (
    AccessLogEntry,
    Consent,
    ConsentCreate,
    ConsentPublic,
    Porteur,
    Project,
    ProjectCreate,
    ProjectFacts,
    ProjectKey,
    ProjectPublic,
)
from services.referral.models.read_models import CommandKeyCopy, KnownMember, KnownOffer
from services.referral.models.referrals import (
    IdempotencyRecord,
    Message,
    MessagePublic,
    Referral,
    ReferralCreate,
    ReferralPublic,
    TransitionRecord,
)

MODELS: list[type[SQLModel]] = [
    KnownMember,
    KnownOffer,
    CommandKeyCopy,
    Project,
    ProjectKey,
    Consent,
    AccessLogEntry,
    Referral,
    TransitionRecord,
    Message,
    IdempotencyRecord,
    PorteurLink,
    SelfReferralAttempt,
]

__all__ = [
    "MODELS",
    "AccessLogEntry",
    "CommandKeyCopy",
    "Consent",
    "ConsentCreate",
    "ConsentPublic",
    "IdempotencyRecord",
    "KnownMember",
    "KnownOffer",
    "Message",
    "MessagePublic",
    "Porteur",
    "PorteurLink",
    "Project",
    "ProjectCreate",
    "ProjectFacts",
    "ProjectKey",
    "ProjectPublic",
    "Referral",
    "ReferralCreate",
    "ReferralPublic",
    "SelfReferralAttempt",
    "SelfReferralForm",
    "SelfReferralReceipt",
    "TransitionRecord",
    "new_id",
]
