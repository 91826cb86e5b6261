"""Events produced by the evaluation service on `evaluation.events` (key: project id).

No personal data: pseudonymous ids, codes and numbers only (user ids are advisers', never a
porteur's).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from contracts.base import Event, Id

TOPIC = "evaluation.events"


class EvaluationServiceEvent(Event):
    topic: ClassVar[str] = TOPIC
    key_field: ClassVar[str | None] = "project_id"
    subject_field: ClassVar[str | None] = "project_id"
    project_id: Id


class EvaluationRecorded(EvaluationServiceEvent):
    """An adviser filled the common grid for a journey, for their member, at entry or exit.

    It counts for (project, member, moment) from now on; `supersedes` names the evaluation it
    replaces there (kept, no longer counted)."""

    type_name: ClassVar[str] = "fr.relais.evaluation.evaluation_recorded.v1"
    evaluation_id: Id
    member_id: Id
    grid_version: str
    moment: str = Field(description="entry or exit")
    filled_by: Id | None = Field(default=None, description="User id of the adviser who filled it")
    dimension_scores: dict[str, float] = Field(
        default_factory=dict, description="Dimension code -> mean score on the grid's scale"
    )
    sdgs: list[int] = Field(default_factory=list, description="SDGs touched (1 to 17)")
    supersedes: Id | None = Field(default=None, description="The evaluation no longer counted")


class FollowUpDue(EvaluationServiceEvent):
    """A structure created through a referral is due its 1-, 2- or 3-year follow-up.

    Route it to `adviser_user_id` (the adviser assigned on the receiving side) when set, else
    to the member's contact."""

    type_name: ClassVar[str] = "fr.relais.evaluation.follow_up_due.v1"
    follow_up_id: Id
    member_id: Id
    years_after: int = Field(ge=1, le=3)
    referral_id: Id
    adviser_user_id: Id | None = None


class FollowUpAnswered(EvaluationServiceEvent):
    type_name: ClassVar[str] = "fr.relais.evaluation.follow_up_answered.v1"
    follow_up_id: Id
    still_active: bool
    jobs: int | None = Field(default=None, ge=0)
    member_id: Id | None = None
    referral_id: Id | None = None
    years_after: int | None = Field(default=None, ge=1, le=3)
