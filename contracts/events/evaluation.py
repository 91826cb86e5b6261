"""Events produced by the evaluation service on `evaluation.events` (key: project id)."""

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
    type_name: ClassVar[str] = "fr.relais.evaluation.evaluation_recorded.v1"
    evaluation_id: Id
    member_id: Id
    grid_version: str
    moment: str = Field(description="entry or exit")


class FollowUpDue(EvaluationServiceEvent):
    type_name: ClassVar[str] = "fr.relais.evaluation.follow_up_due.v1"
    follow_up_id: Id
    member_id: Id
    years_after: int = Field(ge=1, le=3)


class FollowUpAnswered(EvaluationServiceEvent):
    type_name: ClassVar[str] = "fr.relais.evaluation.follow_up_answered.v1"
    follow_up_id: Id
    still_active: bool
    jobs: int | None = Field(default=None, ge=0)
