"""Matching: which published offers can help this project, here, at this stage — and why.

Filters: the territory must cover the commune; stage and kind must match when given;
eligibility must not exclude (empty project types or legal forms accept all; a maximum
structure age excludes older structures; employer-only offers exclude non-employers and
non-employer-only offers exclude employers, when the criteria say so). Themes rank, they do
not filter (an offer without themes is generalist).

Ranking, deterministic: more local territory first, more matched themes, generalist before
off-theme, capacity (open, waitlist, full), fresher first, then offer id. Full offers always
come last, and only when asked for (`include_full`).

The score shown is that order in points (freshness aside): 1000 per territory level more
local than national, 100 per matched theme (up to 9), 10 when themes were asked and the offer
fits them (matched or generalist), 2 when open, 1 on a waiting list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

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


class Reasons(NamedTuple):
    """Why an offer matched."""

    territory_level: str  # the most local level covering the commune
    territory_code: str
    stage: str | None  # the stage asked for (the offer has it), None if none was asked
    themes: tuple[str, ...]  # the asked themes the offer has
    generalist: bool  # the offer has no theme: it takes every theme
    eligibility: tuple[str, ...]  # checks asked and passed: project_type, legal_form, ...
    to_check: tuple[str, ...]  # the offer's conditions the criteria did not say


class MatchResult(NamedTuple):
    offer: IndexedOffer
    score: int
    reasons: Reasons

    @property
    def capacity(self) -> str:
        return self.offer.capacity


def asked_checks(c: Criteria) -> tuple[str, ...]:
    """The eligibility checks the criteria ask for (passed by an offer without conditions)."""
    return tuple(
        name
        for name, value in (
            ("project_type", c.project),
            ("legal_form", c.legal_form),
            ("structure_age", c.structure_age_months),
            ("employer", c.employer),
        )
        if value is not None
    )


def eligibility(entry: Entry, c: Criteria) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
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


SortKey = tuple[bool, int, int, int, int, float, str]


def match(
    index: OfferIndex, geo: Geography, criteria: Criteria, *, commune: Commune | None = None
) -> list[MatchResult]:
    """Ranked offers covering the criteria's commune (raises UnknownCommune)."""
    commune = commune or resolve(geo, criteria.commune)
    stage, kind, include_full = criteria.stage, criteria.kind, criteria.include_full
    wanted = frozenset(criteria.themes)
    unconditional = (asked_checks(criteria), ())  # what an offer without conditions gets
    seen: set[str] = set()
    ranked: list[tuple[SortKey, MatchResult]] = []
    top = len(LEVELS) - 1
    for level, code in commune_keys(commune):
        level_rank = LEVEL_RANK[level]
        territory_points = (top - level_rank) * 1000
        for entry in index.at(level, code, stage):
            offer_id = entry.id
            if offer_id in seen:  # already found on a more local territory (same filters)
                continue
            seen.add(offer_id)
            if kind is not None and entry.kind != kind:
                continue
            capacity_rank = entry.capacity_rank
            full = capacity_rank == FULL
            if full and not include_full:
                continue
            checks = eligibility(entry, criteria) if entry.conditional else unconditional
            if checks is None:
                continue
            generalist = not entry.themes
            if wanted and not generalist:
                common = wanted & entry.themes
                matched = tuple(sorted(common)) if common else ()
            else:
                matched = ()
            n_matched = len(matched)
            off_theme = 1 if wanted and not n_matched and not generalist else 0
            score = (
                territory_points
                + min(n_matched, 9) * 100
                + (10 if wanted and (generalist or n_matched) else 0)
                + 2
                - capacity_rank
            )
            why = Reasons(level, code, stage, matched, generalist, checks[0], checks[1])
            ranked.append(
                (
                    (
                        full,
                        level_rank,
                        -n_matched,
                        off_theme,
                        capacity_rank,
                        entry.freshness,
                        offer_id,
                    ),
                    MatchResult(entry.offer, score, why),
                )
            )
    ranked.sort(key=itemgetter(0))
    return [pair[1] for pair in ranked]


def themes_of(values: Sequence[str]) -> tuple[str, ...]:
    """Themes from repeated and/or comma-separated values, deduplicated, in order."""
    out: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part:
                out[part] = None
    return tuple(out)
