"""The in-memory index of published offers of active members, by (level, code) territory.

Built from plain rows (`IndexedOffer`), immutable once built: a change in the database builds
a new index (see `services.directory.offer_index`). Lookups for a commune union the offers
on the commune, its EPCI, its département, its région and national.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.directory.geo import Commune

LEVELS: tuple[str, ...] = ("commune", "epci", "departement", "region", "national")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}
CAPACITY_RANK: dict[str, int] = {"open": 0, "waitlist": 1, "full": 2}
NATIONAL: tuple[str, str] = ("national", "FR")

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class IndexedOffer:
    """What matching needs of an offer (and what a match result shows of it)."""

    id: str
    member_id: str
    member_name: str
    title: str
    kind: str
    stages: tuple[str, ...]
    themes: tuple[str, ...] = ()
    project_types: tuple[str, ...] = ()
    legal_forms: tuple[str, ...] = ()
    max_structure_age_months: int | None = None
    employer: bool | None = None
    cost: str = "gratuit"
    modes_accueil: tuple[str, ...] = ()
    capacity: str = "open"
    required_information: tuple[str, ...] = ()
    territories: tuple[Key, ...] = ()
    updated_at: datetime | None = None
    description: str = ""
    url: str | None = None


class Entry:
    """An offer with its sets precomputed for the hot path."""

    __slots__ = (
        "capacity_rank",
        "conditional",
        "freshness",
        "id",
        "kind",
        "legal_forms",
        "offer",
        "project_types",
        "stages",
        "themes",
    )

    def __init__(self, offer: IndexedOffer, sets: dict[tuple[str, ...], frozenset[str]]) -> None:
        self.offer = offer
        self.id = offer.id
        self.kind = offer.kind
        self.stages = _shared(sets, offer.stages)
        self.themes = _shared(sets, offer.themes)
        self.project_types = _shared(sets, offer.project_types)
        self.legal_forms = _shared(sets, offer.legal_forms)
        self.capacity_rank = CAPACITY_RANK.get(offer.capacity, 1)
        self.freshness = -offer.updated_at.timestamp() if offer.updated_at else 0.0
        self.conditional = bool(
            offer.project_types
            or offer.legal_forms
            or offer.max_structure_age_months is not None
            or offer.employer is not None
        )


def _shared(sets: dict[tuple[str, ...], frozenset[str]], codes: tuple[str, ...]) -> frozenset[str]:
    """One frozenset per distinct tuple of codes (they repeat across offers)."""
    found = sets.get(codes)
    if found is None:
        found = sets[codes] = frozenset(codes)
    return found


def commune_keys(commune: Commune) -> tuple[Key, ...]:
    """The (level, code) territories containing a commune, smallest first.

    The same list as `Commune.territories()`, as plain tuples (no pydantic in the hot path).
    """
    if commune.epci:
        return (
            ("commune", commune.code),
            ("epci", commune.epci),
            ("departement", commune.departement),
            ("region", commune.region),
            NATIONAL,
        )
    return (
        ("commune", commune.code),
        ("departement", commune.departement),
        ("region", commune.region),
        NATIONAL,
    )


@dataclass
class OfferIndex:
    """Published offers of active members, by territory (and by territory and stage)."""

    offers: dict[str, IndexedOffer]
    by_territory: dict[Key, list[Entry]]
    by_territory_stage: dict[tuple[str, str, str], list[Entry]]
    cache: dict[Any, Any] = field(default_factory=dict)
    """Views derived from this index (coverage, rendered offers): valid while it lives."""

    @classmethod
    def build(cls, offers: Iterable[IndexedOffer]) -> OfferIndex:
        by_id: dict[str, IndexedOffer] = {}
        by_territory: dict[Key, list[Entry]] = {}
        by_stage: dict[tuple[str, str, str], list[Entry]] = {}
        sets: dict[tuple[str, ...], frozenset[str]] = {}
        for offer in offers:  # bucket order does not matter: match() sorts on a total key
            by_id[offer.id] = offer
            entry = Entry(offer, sets)
            for level, code in set(offer.territories):
                by_territory.setdefault((level, code), []).append(entry)
                for stage in entry.stages:
                    by_stage.setdefault((level, code, stage), []).append(entry)
        return cls(by_id, by_territory, by_stage)

    def __len__(self) -> int:
        return len(self.offers)

    def at(self, level: str, code: str, stage: str | None = None) -> list[Entry]:
        """Offers placed on exactly this territory (with this stage, if given)."""
        if stage is None:
            return self.by_territory.get((level, code), [])
        return self.by_territory_stage.get((level, code, stage), [])
