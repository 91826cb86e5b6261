"""The common evaluation grid, its scoring, which evaluation counts, self-diagnosis scoring and
the follow-up calendar (pure rules, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from services.evaluation.grid.followups import add_calendar_years
from services.evaluation.grid.grids import (
    DATA_DIR,
    InvalidEvaluation,
    build_catalog,
    load_catalog,
    parse_grid,
    score,
)
from services.evaluation.grid.journeys import journey_of
from services.evaluation.grid.models import Evaluation
from services.evaluation.grid.selfdiag import diagnose, packaged_questionnaire

GRID_TEXT = (DATA_DIR / "grid-v1.yaml").read_text("utf-8")


def test_packaged_grid_has_five_dimensions_and_the_17_sdgs_in_both_languages() -> None:
    catalog = load_catalog()
    grid = catalog.get(catalog.current)
    assert grid is not None
    assert [d.code for d in grid.dimensions] == [
        "besoin_social",
        "ancrage_territorial",
        "gouvernance_participation",
        "modele_economique_hybride",
        "impact_essaimage",
    ]
    assert [s.number for s in grid.sdgs] == list(range(1, 18))
    assert grid.view("fr")["sdgs"][0]["label"] == "Pas de pauvreté"  # type: ignore[index]
    assert grid.view("en")["sdgs"][0]["label"] == "No poverty"  # type: ignore[index]
    assert "not a copy" in grid.inspiration.en and "Godin" in GRID_TEXT


def _mutated(change: dict[str, object]) -> str:
    data = yaml.safe_load(GRID_TEXT)
    data.update(change)
    return yaml.safe_dump(data, allow_unicode=True)


def test_a_grid_missing_an_sdg_or_repeating_a_code_is_refused() -> None:
    data = yaml.safe_load(GRID_TEXT)
    with pytest.raises(ValueError, match="17 SDGs"):
        parse_grid(_mutated({"sdgs": data["sdgs"][:16]}))
    dims = data["dimensions"]
    dims[1]["criteria"][0]["code"] = dims[0]["criteria"][0]["code"]
    with pytest.raises(ValueError, match="duplicate codes"):
        parse_grid(_mutated({"dimensions": dims}))


def test_versions_are_kept_side_by_side_and_the_latest_is_current() -> None:
    v1 = parse_grid(GRID_TEXT)
    v2 = parse_grid(_mutated({"version": "2026.10"}))
    catalog = build_catalog([v1, v2])
    assert catalog.current == "2026.10" and catalog.versions() == ["2026.1", "2026.10"]
    assert build_catalog([v1, v2], "2026.1").current == "2026.1"
    with pytest.raises(ValueError, match="twice"):
        build_catalog([v1, v1])


def test_dimension_score_is_the_mean_of_its_scored_criteria() -> None:
    grid = parse_grid(GRID_TEXT)
    scored = score(grid, "entry", {"viabilite": 2, "sobriete": 1, "essaimage": 3}, [17, 8, 8])
    assert scored.dimension_scores == {"modele_economique_hybride": 1.5, "impact_essaimage": 3.0}
    assert scored.sdgs == [8, 17]


def test_unknown_criteria_bad_scores_and_sdgs_are_all_reported_in_french() -> None:
    grid = parse_grid(GRID_TEXT)
    with pytest.raises(InvalidEvaluation) as caught:
        score(grid, "milieu", {"inconnu": 1, "viabilite": 7, "sobriete": True}, [0, 18])
    fields = [p.field for p in caught.value.problems]
    assert fields == ["moment", "scores.inconnu", "scores.sobriete", "scores.viabilite", "sdgs"]
    summary = caught.value.summary("fr")
    assert "critère inconnu « inconnu »" in summary
    assert "notes possibles : 0, 1, 2, 3" in summary
    assert "ODD inconnus" in summary
    with pytest.raises(InvalidEvaluation):
        score(grid, "entry", {}, [])


def _evaluation(
    eid: str,
    moment: str,
    member: str,
    day: int,
    scores: dict[str, float],
    superseded_by: str | None = None,
) -> Evaluation:
    return Evaluation(
        id=eid,
        project_id="prj_1",
        member_id=member,
        moment=moment,
        grid_version="2026.1",
        filled_by=f"usr_{member}",
        recorded_at=datetime(2026, 1, day, tzinfo=UTC),
        criterion_scores={},
        dimension_scores=scores,
        sdgs=[],
        superseded_by=superseded_by,
    )


def test_change_is_exit_minus_entry_with_superseded_ones_ignored() -> None:
    rows = [
        _evaluation("e0", "entry", "mbr_a", 1, {"besoin_social": 0.0}, superseded_by="e1"),
        _evaluation("e1", "entry", "mbr_a", 2, {"besoin_social": 1.0, "impact_essaimage": 1.0}),
        _evaluation("e2", "entry", "mbr_b", 3, {"besoin_social": 2.0}),
        _evaluation("x1", "exit", "mbr_a", 10, {"besoin_social": 2.0, "viabilite": 2.0}),
        _evaluation("x2", "exit", "mbr_b", 20, {"besoin_social": 2.5, "impact_essaimage": 3.0}),
    ]
    journey = journey_of("prj_1", rows)
    assert journey.entry is not None and journey.entry.evaluation_id == "e1"  # earliest counted
    assert journey.exit is not None and journey.exit.evaluation_id == "x2"  # latest counted
    assert journey.exit.member_id == "mbr_b" and journey.exit.filled_by == "usr_mbr_b"
    assert journey.change == {"besoin_social": 1.5, "impact_essaimage": 2.0}


def test_change_is_none_when_one_side_is_missing() -> None:
    journey = journey_of("prj_1", [_evaluation("e1", "entry", "mbr_a", 2, {"besoin_social": 1})])
    assert journey.exit is None and journey.change == {"besoin_social": None}


def test_follow_up_dates_are_paris_calendar_years() -> None:
    completed = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 11 March 00:30 in Paris (winter)
    one_year = add_calendar_years(completed, 1)
    assert one_year == datetime(2027, 3, 10, 23, 30, tzinfo=UTC)
    summer = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # 1 July 00:30 in Paris (summer)
    assert add_calendar_years(summer, 3) == datetime(2029, 6, 30, 22, 30, tzinfo=UTC)
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert add_calendar_years(leap, 1) == datetime(2029, 2, 28, 12, 0, tzinfo=UTC)


def test_self_diagnosis_scores_profile_and_steps_for_the_stage() -> None:
    q = packaged_questionnaire()
    answers = {question.code: question.choices[-1].code for question in q.questions}
    answers["ressources"], answers["plan_financement"] = "ne_sais_pas", "non"
    result = diagnose(q, "creation", answers)
    assert result.dimension_scores["besoin_social"] == 100.0
    assert result.dimension_scores["modele_economique_hybride"] == 0.0
    assert result.mean == 80.0 and result.profile.code == "affirmee"
    assert result.to_work_on == ["modele_economique_hybride"]
    assert result.steps[0].code == "financement"  # the weakest dimension's step first
    assert {s.code for s in result.steps} == {"financement", "accompagnement", "reseau"}


def test_self_diagnosis_low_answers_give_a_project_to_structure() -> None:
    q = packaged_questionnaire()
    answers = {question.code: question.choices[0].code for question in q.questions}
    result = diagnose(q, "idee", answers)
    assert result.mean == 0.0 and result.profile.code == "a_structurer"


def test_self_diagnosis_refuses_missing_unknown_and_free_text_answers() -> None:
    q = packaged_questionnaire()
    answers: dict[str, object] = {
        question.code: question.choices[0].code for question in q.questions
    }
    del answers["mesure"]
    answers["essaimage"] = "Mon projet s'appelle La Fabrique, appelez-moi"
    answers["age"] = "42"
    with pytest.raises(InvalidEvaluation) as caught:
        diagnose(q, "lune", answers)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"stage", "answers.age", "answers.mesure", "answers.essaimage"}
