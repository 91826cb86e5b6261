"""`relais demo`: play a whole accompaniment chain against the running stack, as its members.

The story (issue 4, "Must hold"): a porteur's collective project at the idea stage, in the
Santerre (Somme), met at a Point PIVA+ which records it with the porteur's consent and
orients it to the DLA — which declines (hors stade: the DLA supports established employers).
The PIVA+ point then orients it to the Starter ESS operator whose offer covers the commune
(found with the directory's `GET /v1/match`), which accepts, accompanies, closes
(activité lancée) and orients onward to an incubator; the incubator redirects it (réorienté
ailleurs) to the France Active fund, which accepts, accompanies and closes: funding obtained,
15 000 €, 2 jobs. Then the journey's timeline is read back.

Every call is an ordinary API call with a token from the member's own API key (the demo
credentials file has them). The referral service learns members and offers from
`directory.events`: right after `relais dev` has loaded the demo its copy may lag, so a
send refused with `member.unknown` (or an offer it does not know yet) is retried for a while.
"""

from services.cli.demo_chain.api import find_starter_offer
from services.cli.demo_chain.cast import ROLES, Cast, DemoChainError, Structure
from services.cli.demo_chain.chain import (
    DEFAULT_COMMUNE,
    TITLE,
    ChainResult,
    Say,
    play_chain,
    project_body,
)
from services.cli.demo_chain.command import run_demo

__all__ = [
    "DEFAULT_COMMUNE",
    "ROLES",
    "TITLE",
    "Cast",
    "ChainResult",
    "DemoChainError",
    "Say",
    "Structure",
    "find_starter_offer",
    "play_chain",
    "project_body",
    "run_demo",
]
