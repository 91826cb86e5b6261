"""Evaluation's source tables: the common grid, self-diagnosis and follow-ups.

See docs/services/evaluation-grid.md. Public functions for the reports:

* `journey_evaluations(session, project_ids)` -> {project id: JourneyEvaluation}: the counted
  entry and exit evaluations of each journey and the change per dimension;
* `survival(session, member_ids=None, network_id=None)` -> SurvivalFigures: created structures
  followed, answered and still active at 1, 2 and 3 years.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from contracts.events.referral import TOPIC as REFERRAL_TOPIC
from contracts.events.referral import ReferralAssigned, ReferralCompleted, ReferralSent
from services.evaluation.grid import followups, participants
from services.evaluation.grid.api import build_routers
from services.evaluation.grid.followups import FOLLOW_UP_TIMER, SurvivalFigures, survival
from services.evaluation.grid.grids import load_catalog
from services.evaluation.grid.journeys import journey_evaluations
from services.evaluation.grid.models import (
    CountedEvaluation,
    Evaluation,
    FollowUp,
    JourneyEvaluation,
    Participant,
    PublicAttempt,
    ReferralAdviser,
    SelfDiagnosis,
)
from services.evaluation.grid.outbound import Outbound
from services.evaluation.grid.public import PublicDeps
from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.consumer import Subscription
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart

__all__ = [
    "CountedEvaluation",
    "JourneyEvaluation",
    "SurvivalFigures",
    "build_grid_part",
    "journey_evaluations",
    "survival",
]

MODELS: list[type[SQLModel]] = [
    Evaluation,
    Participant,
    ReferralAdviser,
    FollowUp,
    SelfDiagnosis,
    PublicAttempt,
]


def subscriptions() -> list[Subscription]:
    """Referral events this slice needs, in its own consumer group (its own offsets): who
    took part in a journey, who is its adviser, and which referrals created a structure."""
    return [
        Subscription(
            topic=REFERRAL_TOPIC,
            purpose="grid-journeys",
            routes={
                ReferralSent: participants.on_referral_sent,
                ReferralAssigned: participants.on_referral_assigned,
                ReferralCompleted: followups.on_referral_completed,
            },
        )
    ]


def build_grid_part(settings: EvaluationSettings, clock: Clock, emit: Emitter) -> ServicePart:
    """Grids, evaluations, self-diagnosis and follow-ups; see docs/services/evaluation-grid.md."""
    outbound = Outbound(settings)
    deps = PublicDeps(
        settings=settings,
        clock=clock,
        outbound=outbound,
        catalog=load_catalog(settings.grid_version),
    )
    return ServicePart(
        models=list(MODELS),
        subscriptions=subscriptions(),
        timer_handlers={FOLLOW_UP_TIMER: followups.follow_up_timer(emit)},
        routers=build_routers(deps, emit),
        on_start=[outbound.start],
        on_stop=[outbound.stop],
    )
