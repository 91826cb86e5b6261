"""The grid slice's tables (source tables, not projections) and the shapes it hands out.

Evaluations, self-diagnoses, hand-offs and follow-up answers are entered over HTTP: a rebuild
of the indicators never touches them. The participants and follow-up rows are fed by referral
events through this slice's own subscription (its own consumer group).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


class Evaluation(SQLModel, table=True):
    """One filled grid for a journey (project), by one adviser for one member, at one moment.

    The latest per (project, member, moment) counts; older ones are kept and marked
    superseded (`superseded_by` names the one that replaced it).
    """

    __tablename__ = "evaluation_grid_evaluation"

    id: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(max_length=64, index=True)
    member_id: str = Field(max_length=64, index=True)
    moment: str = Field(max_length=8)  # entry | exit
    grid_version: str = Field(max_length=32)
    filled_by: str = Field(max_length=200)  # user id (the token's subject)
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    criterion_scores: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    dimension_scores: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    sdgs: list[int] = Field(sa_column=Column(JSON, nullable=False))
    superseded_by: str | None = Field(default=None, max_length=64)


class Participant(SQLModel, table=True):
    """Who may read a project's evaluations: (project, member, referral, role) from referral
    events; `network_id` lets that network's operators read too."""

    __tablename__ = "evaluation_grid_participant"
    __table_args__ = (UniqueConstraint("referral_id", "member_id", name="uq_grid_participant"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(max_length=64, index=True)
    member_id: str = Field(max_length=64, index=True)
    referral_id: str = Field(max_length=64)
    role: str = Field(max_length=8)  # sender | receiver
    network_id: str | None = Field(default=None, max_length=64)


class ReferralAdviser(SQLModel, table=True):
    """The adviser assigned on the receiving side of a referral (from ReferralAssigned)."""

    __tablename__ = "evaluation_grid_referral_adviser"

    referral_id: str = Field(primary_key=True, max_length=64)
    adviser_user_id: str = Field(max_length=64)


class FollowUp(SQLModel, table=True):
    """A follow-up of a created structure, 1, 2 or 3 years after its referral completed."""

    __tablename__ = "evaluation_grid_follow_up"
    __table_args__ = (UniqueConstraint("referral_id", "years_after", name="uq_grid_follow_up"),)

    id: str = Field(primary_key=True, max_length=64)
    referral_id: str = Field(max_length=64, index=True)
    project_id: str = Field(max_length=64, index=True)
    member_id: str = Field(max_length=64, index=True)  # the receiving (accompanying) member
    network_id: str | None = Field(default=None, max_length=64, index=True)
    years_after: int
    completed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    status: str = Field(default="scheduled", max_length=12)  # scheduled | due | answered
    still_active: bool | None = None
    jobs: int | None = None
    answered_by: str | None = Field(default=None, max_length=200)
    answered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class SelfDiagnosis(SQLModel, table=True):
    """An anonymous self-diagnosis: a random id, the questionnaire version, coded answers and
    the computed profile. No identity, no IP address, no free text."""

    __tablename__ = "evaluation_grid_self_diagnosis"

    id: str = Field(primary_key=True, max_length=64)
    questionnaire_version: str = Field(max_length=32)
    taken_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    stage: str = Field(max_length=32)
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    dimension_scores: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    profile: str = Field(max_length=32)
    handed_off: bool = False
    handoff_reference: str | None = Field(default=None, max_length=64)  # referral's answer id


# --- API shapes -------------------------------------------------------------------------------


class EvaluationCreate(BaseModel):
    """A filled grid. Scores and SDGs are checked against the grid (422 with each problem)."""

    moment: str = PydanticField(description="entry or exit", max_length=16)
    grid_version: str | None = PydanticField(default=None, description="Default: the current grid")
    scores: dict[str, Any] = PydanticField(description="Criterion code -> a value of its scale")
    sdgs: list[Any] = PydanticField(default_factory=list, description="SDGs touched (1 to 17)")


class EvaluationPublic(BaseModel):
    id: str
    project_id: str
    member_id: str
    moment: str
    grid_version: str
    filled_by: str
    recorded_at: datetime
    scores: dict[str, int]
    dimension_scores: dict[str, float]
    sdgs: list[int]
    counts: bool
    superseded_by: str | None


class FollowUpAnswer(BaseModel):
    still_active: bool = PydanticField(description="Is the structure still active?")
    jobs: int | None = PydanticField(default=None, ge=0, le=100_000, description="Jobs (FTE)")


class FollowUpPublic(BaseModel):
    id: str
    referral_id: str
    project_id: str
    member_id: str
    network_id: str | None
    years_after: int
    completed_at: datetime
    due_at: datetime
    status: str
    still_active: bool | None
    jobs: int | None
    answered_at: datetime | None


# --- shapes handed to the reports (journey_evaluations) -------------------------------------


class CountedEvaluation(BaseModel):
    evaluation_id: str
    member_id: str
    filled_by: str
    recorded_at: datetime
    grid_version: str
    moment: str
    dimension_scores: dict[str, float]
    sdgs: list[int]


class JourneyEvaluation(BaseModel):
    """A journey's counted evaluations: the first counted entry and the last counted exit,
    and the change per dimension (exit - entry; None when one side is missing)."""

    project_id: str
    entry: CountedEvaluation | None
    exit: CountedEvaluation | None
    change: dict[str, float | None]


class PublicAttempt(SQLModel, table=True):
    """A rate-limit mark of the public self-diagnosis: a keyed hash of the client address (the
    address itself is never stored) and a time; rows older than a day are purged."""

    __tablename__ = "evaluation_grid_public_attempt"

    id: int | None = Field(default=None, primary_key=True)
    bucket: str = Field(max_length=80, index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))


# --- self-diagnosis API shapes -----------------------------------------------------------------


class ContactRequest(BaseModel):
    """A porteur asking to be contacted: forwarded to the referral service's public
    self-referral in the same request, never stored here."""

    member_id: str = PydanticField(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    offer_id: str | None = PydanticField(default=None, max_length=64)
    porteur: dict[str, Any] = PydanticField(description="name, email and/or phone")
    consent: bool = False
    consent_text_version: str | None = PydanticField(default=None, max_length=40)
    collective: bool = False
    website: str | None = PydanticField(default=None, max_length=200, description="Leave empty")


class SelfDiagnosisAnswers(BaseModel):
    stage: str = PydanticField(max_length=40)
    answers: dict[str, Any] = PydanticField(description="Question code -> choice code")
    commune: str | None = PydanticField(
        default=None, pattern=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE code, for offers"
    )
    themes: list[str] = PydanticField(default_factory=list, max_length=10)
    contact: ContactRequest | None = None
