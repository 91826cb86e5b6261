"""The porteur's own door: a public self-referral, and the private link that follows it.

* `form`: `POST /v1/public/self-referrals` — bounded, checked, then a project owned by the
  member asked, the porteur's consent, a referral sent by the porteur, a private link;
* `link`: what the link shows, the data download, consent withdrawal, erasure.
"""

from services.referral.handlers.porteur.form import (
    FORM_ACTOR,
    LIMITS,
    SELF_REFERRAL_SENDER,
    PublicLimits,
    RateLimited,
    self_refer,
)
from services.referral.handlers.porteur.link import (
    LINK_ACTOR,
    erase,
    hash_secret,
    label,
    porteur_data,
    request_status,
    resolve,
    withdraw,
)

__all__ = [
    "FORM_ACTOR",
    "LIMITS",
    "LINK_ACTOR",
    "SELF_REFERRAL_SENDER",
    "PublicLimits",
    "RateLimited",
    "erase",
    "hash_secret",
    "label",
    "porteur_data",
    "request_status",
    "resolve",
    "self_refer",
    "withdraw",
]
