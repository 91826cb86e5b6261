"""The porteurs' self-diagnosis: the questionnaire as versioned data and the pure rules that
score it (no I/O besides reading the packaged YAML once)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.evaluation.grid.grids import InvalidEvaluation, Labelled, Problem

DATA = Path(__file__).parent / "data" / "self-diagnosis-v1.yaml"
STAGE_FIELD = "stage"


class Choice(Labelled):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    points: int = Field(ge=0, le=3)


class Question(Labelled):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    dimension: str
    choices: tuple[Choice, ...] = Field(min_length=2)


class Stage(Labelled):
    code: str


class Profile(Labelled):
    code: str
    below: float


class Step(Labelled):
    code: str
    kind: str
    dimension: str | None = None


class Questionnaire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    title: Labelled
    intro: Labelled
    stages: tuple[Stage, ...]
    questions: tuple[Question, ...] = Field(min_length=1)
    profiles: tuple[Profile, ...] = Field(min_length=1)
    steps: dict[str, tuple[Step, ...]]

    @model_validator(mode="after")
    def _consistent(self) -> Questionnaire:
        codes = [q.code for q in self.questions]
        if len(set(codes)) != len(codes) or STAGE_FIELD in codes:
            raise ValueError("question codes must be unique (and not 'stage')")
        stages = {s.code for s in self.stages}
        if set(self.steps) != stages:
            raise ValueError("next steps must be given for every stage, and only for them")
        if sorted(p.below for p in self.profiles) != [p.below for p in self.profiles]:
            raise ValueError("profiles go by increasing threshold")
        return self

    def dimensions(self) -> list[str]:
        seen: list[str] = []
        for q in self.questions:
            if q.dimension not in seen:
                seen.append(q.dimension)
        return seen

    def view(self, lang: str) -> dict[str, Any]:
        return {
            "version": self.version,
            "title": self.title.label(lang),
            "intro": self.intro.label(lang),
            "stages": [{"code": s.code, "label": s.label(lang)} for s in self.stages],
            "questions": [
                {
                    "code": q.code,
                    "label": q.label(lang),
                    "dimension": q.dimension,
                    "choices": [{"code": c.code, "label": c.label(lang)} for c in q.choices],
                }
                for q in self.questions
            ],
        }


@cache
def packaged_questionnaire() -> Questionnaire:
    return Questionnaire.model_validate(yaml.safe_load(DATA.read_text("utf-8")))


@dataclass(frozen=True)
class Diagnosis:
    stage: str
    answers: dict[str, str]
    dimension_scores: dict[str, float]  # 0 to 100
    mean: float
    profile: Profile
    strengths: list[str]
    to_work_on: list[str]
    steps: list[Step]


def diagnose(q: Questionnaire, stage: str, answers: Mapping[str, Any]) -> Diagnosis:
    """Validate the answers (known questions, known choices, every question answered) and
    compute the score per dimension, the profile and the next steps for the stage."""
    problems: list[Problem] = []
    stages = [s.code for s in q.stages]
    if stage not in stages:
        problems.append(
            Problem(
                STAGE_FIELD,
                f"stade inconnu « {stage} » ; stades possibles : {', '.join(stages)}",
                f"unknown stage '{stage}'; allowed: {', '.join(stages)}",
            )
        )
    by_code = {question.code: question for question in q.questions}
    for code in sorted(set(answers) - set(by_code)):
        problems.append(
            Problem(
                f"answers.{code}", f"question inconnue « {code} »", f"unknown question '{code}'"
            )
        )
    points: dict[str, list[int]] = {}
    maxima: dict[str, list[int]] = {}
    for question in q.questions:
        given = answers.get(question.code)
        allowed = {c.code: c for c in question.choices}
        if given is None:
            problems.append(
                Problem(
                    f"answers.{question.code}",
                    f"réponse manquante à « {question.fr} »",
                    f"missing answer to '{question.en}'",
                )
            )
            continue
        choice = allowed.get(given) if isinstance(given, str) else None
        if choice is None:
            problems.append(
                Problem(
                    f"answers.{question.code}",
                    f"réponse « {given} » inconnue ; choix possibles : {', '.join(allowed)}",
                    f"unknown answer '{given}'; allowed: {', '.join(allowed)}",
                )
            )
            continue
        points.setdefault(question.dimension, []).append(choice.points)
        maxima.setdefault(question.dimension, []).append(max(c.points for c in question.choices))
    if problems:
        raise InvalidEvaluation(problems)
    scores = {d: round(100 * sum(points[d]) / max(1, sum(maxima[d])), 1) for d in q.dimensions()}
    mean = round(sum(scores.values()) / len(scores), 1)
    profile = next((p for p in q.profiles if mean < p.below), q.profiles[-1])
    low = min(scores.values())
    to_work_on = [d for d, s in scores.items() if s == low and s < 67]
    strengths = [d for d, s in scores.items() if s >= 67]
    steps = sorted(q.steps[stage], key=lambda s: 0 if s.dimension in to_work_on else 1)
    return Diagnosis(
        stage=stage,
        answers={k: str(v) for k, v in answers.items()},
        dimension_scores=scores,
        mean=mean,
        profile=profile,
        strengths=strengths,
        to_work_on=to_work_on,
        steps=steps,
    )
