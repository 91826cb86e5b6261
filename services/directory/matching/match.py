"""Matching: which published offers can help this project, here, at this stage — and why.

Filters: the territory must cover the commune; stage and kind must match when given;
eligibility must not exclude (empty project types or legal forms accept all; a maximum
structure age excludes older structures; employer-only offers exclude non-employers and
non-employer-only offers exclude employers, when the criteria say so). Themes rank, they do
not filter (an offer without themes is generalist).

Ranking, deterministic: more local territory first, more matched themes, generalist before
off-theme, capacity (open, waitlist, full), fresher first, then offer id. Full offers always
come last, and only when asked for (`include_full`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.directory.geo import Commune, Geography
from services.directory.matching.index import (
    LEVEL_RANK,
    LEVELS,
    Entry,
    IndexedOffer,
    OfferIndex,
    commune_keys,
)

FULL = 2  # capacity rank of a full offer


class UnknownCommune(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Criteria:
    commune: str
    stage: str | None = None
    themes: tuple[str, ...] = ()
    kind: str | None = None
    project: str | None = None  # individual | collective
    legal_form: str | None = None
    structure_age_months: int | None = None
    employer: bool | None = None
    include_full: bool = False


@dataclass(frozen=True, slots=True)
class Reasons:
    """Why an offer matched."""

    territory_level: str  # the most local level covering the commune
    territory_code: str
    stage: str | None  # the stage asked for (the offer has it), None if none was asked
    themes: tuple[str, ...]  # the asked themes the offer has
    generalist: bool  # the offer has no theme: it takes every theme
    eligibility: tuple[str, ...]  # checks asked and passed: project_type, legal_form, ...
    to_check: tuple[str, ...]  # the offer's conditions the criteria did not say


@dataclass(frozen=True, slots=True)
class MatchResult:
    offer: IndexedOffer
    score: int
    reasons: Reasons

    @property
    def capacity(self) -> str:
        return self.offer.capacity


def score_of(level_rank: int, themes: int, generalist: bool, capacity_rank: int) -> int:
    """Relevance points, higher first: territory (1000s), themes (100s), fit, capacity."""
    fit = 10 if generalist or themes else 0
    return (len(LEVELS) - 1 - level_rank) * 1000 + min(themes, 9) * 100 + fit + (2 - capacity_rank)


def _eligibility(entry: Entry, c: Criteria) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(checks passed, conditions to check), or None when the criteria exclude the offer."""
    passed: list[str] = []
    to_check: list[str] = []
    offer = entry.offer
    if c.project is not None:
        if entry.project_types and c.project not in entry.project_types:
            return None
        passed.append("project_type")
    elif entry.project_types:
        to_check.append("project_type")
    if c.legal_form is not None:
        if entry.legal_forms and c.legal_form not in entry.legal_forms:
            return None
        passed.append("legal_form")
    elif entry.legal_forms:
        to_check.append("legal_form")
    limit = offer.max_structure_age_months
    if c.structure_age_months is not None:
        if limit is not None and c.structure_age_months > limit:
            return None
        passed.append("structure_age")
    elif limit is not None:
        to_check.append("structure_age")
    if c.employer is not None:
        if offer.employer is not None and offer.employer != c.employer:
            return None
        passed.append("employer")
    elif offer.employer is not None:
        to_check.append("employer")
    return tuple(passed), tuple(to_check)


def resolve(geo: Geography, code: str) -> Commune:
    commune = geo.commune(code)
    if commune is None:
        raise UnknownCommune(code)
    return commune


def match(
    index: OfferIndex, geo: Geography, criteria: Criteria, *, commune: Commune | None = None
) -> list[MatchResult]:
    """Ranked offers covering the criteria's commune (raises UnknownCommune)."""
    commune = commune or resolve(geo, criteria.commune)
    stage, kind = criteria.stage, criteria.kind
    wanted = frozenset(criteria.themes)
    seen: set[str] = set()
    ranked: list[tuple[tuple[bool, int, int, int, int, float, str], MatchResult]] = []
    for level, code in commune_keys(commune):
        level_rank = LEVEL_RANK[level]
        for entry in index.at(level, code, stage):
            if entry.id in seen:  # already found on a more local territory (filters are the same)
                continue
            seen.add(entry.id)
            if kind is not None and entry.kind != kind:
                continue
            capacity_rank = entry.capacity_rank
            if capacity_rank == FULL and not criteria.include_full:
                continue
            checks = _eligibility(entry, criteria)
            if checks is None:
                continue
            matched = tuple(sorted(wanted & entry.themes)) if wanted else ()
            generalist = not entry.themes
            off_theme = 1 if wanted and not matched and not generalist else 0
            result = MatchResult(
                entry.offer,
                score_of(level_rank, len(matched), generalist, capacity_rank),
                Reasons(level, code, stage, matched, generalist, checks[0], checks[1]),
            )
            key = (
                capacity_rank == FULL,
                level_rank,
                -len(matched),
                off_theme,
                capacity_rank,
                entry.freshness,
                entry.id,
            )
            ranked.append((key, result))
    ranked.sort(key=lambda pair: pair[0])
    return [result for _, result in ranked]


def themes_of(values: Sequence[str]) -> tuple[str, ...]:
    """Themes from repeated and/or comma-separated values, deduplicated, in order."""
    out: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part:
                out[part] = None
    return tuple(out)
