"""Matching, coverage and search statistics: pure code over an in-memory offer index."""

from services.directory.matching.coverage import (
    Coverage,
    CoverageRow,
    Gap,
    Place,
    UnknownTerritory,
    coverage,
)
from services.directory.matching.index import (
    LEVELS,
    IndexedOffer,
    OfferIndex,
    commune_keys,
)
from services.directory.matching.match import (
    Criteria,
    MatchResult,
    Reasons,
    UnknownCommune,
    match,
    themes_of,
)
from services.directory.matching.places import Places, fold, places
from services.directory.matching.stats import SearchStats

__all__ = [
    "LEVELS",
    "Coverage",
    "CoverageRow",
    "Criteria",
    "Gap",
    "IndexedOffer",
    "MatchResult",
    "OfferIndex",
    "Place",
    "Places",
    "Reasons",
    "SearchStats",
    "UnknownCommune",
    "UnknownTerritory",
    "commune_keys",
    "coverage",
    "fold",
    "match",
    "places",
    "themes_of",
]
