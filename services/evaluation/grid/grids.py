"""The common evaluation grid as versioned data, and the pure rules that score it (no I/O
besides reading the packaged YAML files once, at start-up).

A grid file is immutable once published: a change is a new file with a new `version`. An
evaluation stores the version it used and its computed scores, so a new version never
changes a past evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA_DIR = Path(__file__).parent / "data"
SDG_COUNT = 17
MOMENTS: dict[str, tuple[str, str]] = {
    "entry": ("Entrée dans l'accompagnement", "Entry into support"),
    "exit": ("Sortie de l'accompagnement", "Exit from support"),
}


class Labelled(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.fr


class ScaleLevel(Labelled):
    value: int = Field(ge=0, le=10)


class Criterion(Labelled):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    sdgs: tuple[int, ...] = ()


class Dimension(Labelled):
    code: str = Field(pattern=r"^[a-z0-9_]+$")
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    scale: tuple[ScaleLevel, ...] | None = None  # None: the grid's scale


class Sdg(Labelled):
    number: int = Field(ge=1, le=SDG_COUNT)


class Grid(BaseModel):
    """One version of the grid. Validated when loaded: unique codes, a scale, the 17 SDGs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    title: Labelled
    inspiration: Labelled
    scale: tuple[ScaleLevel, ...] = Field(min_length=2)
    dimensions: tuple[Dimension, ...] = Field(min_length=1)
    sdgs: tuple[Sdg, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Grid:
        codes = [d.code for d in self.dimensions] + [
            c.code for d in self.dimensions for c in d.criteria
        ]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate codes: {', '.join(duplicates)}")
        if sorted(s.number for s in self.sdgs) != list(range(1, SDG_COUNT + 1)):
            raise ValueError("the grid must name each of the 17 SDGs exactly once")
        for scale in [self.scale, *(d.scale for d in self.dimensions if d.scale)]:
            values = [level.value for level in scale]
            if len(set(values)) != len(values) or len(values) < 2:
                raise ValueError("a scale needs at least two distinct values")
        for criterion in (c for d in self.dimensions for c in d.criteria):
            if any(not 1 <= n <= SDG_COUNT for n in criterion.sdgs):
                raise ValueError(f"criterion {criterion.code}: SDGs are numbered 1 to 17")
        return self

    def scale_of(self, dimension: Dimension) -> tuple[ScaleLevel, ...]:
        return dimension.scale or self.scale

    def dimension_of(self) -> dict[str, Dimension]:
        """criterion code -> its dimension."""
        return {c.code: d for d in self.dimensions for c in d.criteria}

    def view(self, lang: str) -> dict[str, object]:
        """The grid as the API shows it: codes with labels in one language."""

        def levels(scale: Sequence[ScaleLevel]) -> list[dict[str, object]]:
            return [{"value": s.value, "label": s.label(lang)} for s in scale]

        return {
            "version": self.version,
            "title": self.title.label(lang),
            "inspiration": self.inspiration.label(lang),
            "scale": levels(self.scale),
            "moments": [
                {"code": k, "label": v[1 if lang == "en" else 0]} for k, v in MOMENTS.items()
            ],
            "dimensions": [
                {
                    "code": d.code,
                    "label": d.label(lang),
                    "scale": levels(self.scale_of(d)),
                    "criteria": [
                        {"code": c.code, "label": c.label(lang), "sdgs": list(c.sdgs)}
                        for c in d.criteria
                    ],
                }
                for d in self.dimensions
            ],
            "sdgs": [{"number": s.number, "label": s.label(lang)} for s in self.sdgs],
        }


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def parse_grid(text: str) -> Grid:
    return Grid.model_validate(yaml.safe_load(text))


@dataclass(frozen=True)
class GridCatalog:
    """Every published version, by version string; `current` is the one new evaluations use."""

    grids: Mapping[str, Grid]
    current: str

    def get(self, version: str) -> Grid | None:
        return self.grids.get(version)

    def versions(self) -> list[str]:
        return sorted(self.grids, key=version_key)


def build_catalog(grids: Sequence[Grid], current: str | None = None) -> GridCatalog:
    by_version: dict[str, Grid] = {}
    for grid in grids:
        if grid.version in by_version:
            raise ValueError(f"grid version {grid.version} published twice")
        by_version[grid.version] = grid
    if not by_version:
        raise ValueError("no evaluation grid found")
    chosen = current or max(by_version, key=version_key)
    if chosen not in by_version:
        raise ValueError(f"EVALUATION_GRID_VERSION {chosen} is not a published grid version")
    return GridCatalog(by_version, chosen)


@cache
def packaged_grids() -> tuple[Grid, ...]:
    return tuple(parse_grid(p.read_text("utf-8")) for p in sorted(DATA_DIR.glob("grid-*.yaml")))


def load_catalog(current: str | None = None) -> GridCatalog:
    return build_catalog(packaged_grids(), current)


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a filled grid, in both languages."""

    field: str
    fr: str
    en: str

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.fr


class InvalidEvaluation(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.en for p in problems))
        self.problems = problems

    def summary(self, lang: str) -> str:
        return "; ".join(p.text(lang) for p in self.problems)


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Scored:
    criterion_scores: dict[str, int]
    dimension_scores: dict[str, float]
    sdgs: list[int]


def score(
    grid: Grid, moment: str, criterion_scores: Mapping[str, Any], sdgs: Sequence[Any]
) -> Scored:
    """Validate a filled grid and compute the score of each dimension: the mean of its scored
    criteria on the dimension's scale (a dimension without any scored criterion is absent).
    Raises InvalidEvaluation with every problem found."""
    problems: list[Problem] = []
    if moment not in MOMENTS:
        problems.append(
            Problem(
                "moment",
                f"moment inconnu « {moment} » ; possibles : entry (entrée), exit (sortie)",
                f"unknown moment '{moment}'; allowed: entry, exit",
            )
        )
    owner = grid.dimension_of()
    if not criterion_scores:
        problems.append(
            Problem(
                "scores",
                "aucun critère noté : notez au moins un critère de la grille",
                "no criterion scored: score at least one criterion of the grid",
            )
        )
    for code, value in sorted(criterion_scores.items()):
        dimension = owner.get(code)
        if dimension is None:
            problems.append(
                Problem(
                    f"scores.{code}",
                    f"critère inconnu « {code} » dans la grille {grid.version}",
                    f"unknown criterion '{code}' in grid {grid.version}",
                )
            )
            continue
        allowed = [level.value for level in grid.scale_of(dimension)]
        if not _is_number(value) or value not in allowed:
            shown = ", ".join(str(a) for a in allowed)
            problems.append(
                Problem(
                    f"scores.{code}",
                    f"note {value!r} hors échelle pour « {code} » ; notes possibles : {shown}",
                    f"score {value!r} out of scale for '{code}'; allowed: {shown}",
                )
            )
    bad_sdgs = [n for n in sdgs if not _is_number(n) or not 1 <= n <= SDG_COUNT]
    if bad_sdgs:
        problems.append(
            Problem(
                "sdgs",
                f"ODD inconnus {bad_sdgs} : les ODD sont numérotés de 1 à 17",
                f"unknown SDGs {bad_sdgs}: SDGs are numbered 1 to 17",
            )
        )
    if problems:
        raise InvalidEvaluation(problems)
    totals: dict[str, list[int]] = {}
    for code, value in criterion_scores.items():
        totals.setdefault(owner[code].code, []).append(value)
    dimension_scores = {
        d.code: round(sum(totals[d.code]) / len(totals[d.code]), 4)
        for d in grid.dimensions
        if d.code in totals
    }
    return Scored(dict(criterion_scores), dimension_scores, sorted(set(sdgs)))
