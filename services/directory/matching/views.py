"""What the public API shows of matches, coverage and communes: plain JSON with French (or
English) labels next to every code.

Match results are rendered as JSON text from fragments cached on the (immutable) index: an
offer's public fields are serialised once per language, so a search costs the ranking and a
few string joins, not a serialisation of fifty offers.
"""

from __future__ import annotations

import json
from typing import Any

from services.directory import vocabulary as v
from services.directory.geo import Commune, Geography
from services.directory.matching.coverage import Coverage, Place
from services.directory.matching.index import IndexedOffer, OfferIndex
from services.directory.matching.match import MatchResult, Reasons

SUMMARY_CHARS = 300
ELIGIBILITY: v.Labels = {
    "project_type": ("Type de projet", "Project type"),
    "legal_form": ("Forme juridique", "Legal form"),
    "structure_age": ("Âge de la structure", "Structure age"),
    "employer": ("Employeur ou non", "Employer or not"),
}
LEVEL_LABELS: v.Labels = {
    "commune": ("Commune", "Commune"),
    "epci": ("Intercommunalité (EPCI)", "Intermunicipality (EPCI)"),
    "departement": ("Département", "Département"),
    "region": ("Région", "Région"),
    "national": ("National", "National"),
}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def labelled(vocabulary: v.Labels, code: str, lang: str) -> dict[str, str]:
    return {"code": code, "label": v.label(vocabulary, code, lang)}


def labels(vocabulary: v.Labels, codes: tuple[str, ...], lang: str) -> list[dict[str, str]]:
    return [labelled(vocabulary, code, lang) for code in codes]


def summary(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def _area(geo: Geography, level: str, code: str | None) -> dict[str, str] | None:
    return None if code is None else {"code": code, "name": geo.name_of(level, code)}


def commune_view(geo: Geography, commune: Commune) -> dict[str, Any]:
    return {
        "code": commune.code,
        "name": commune.name,
        "postcodes": list(commune.postcodes),
        "population": commune.population,
        "epci": _area(geo, "epci", commune.epci),
        "departement": _area(geo, "departement", commune.departement),
        "region": _area(geo, "region", commune.region),
    }


def offer_view(geo: Geography, offer: IndexedOffer, lang: str) -> dict[str, Any]:
    """An offer's public fields, with labels (the full text is at /v1/offers/{id})."""
    return {
        "id": offer.id,
        "title": offer.title,
        "summary": summary(offer.description),
        "url": offer.url,
        "kind": labelled(v.OFFER_KINDS, offer.kind, lang),
        "stages": labels(v.STAGES, offer.stages, lang),
        "themes": labels(v.THEMES, offer.themes, lang),
        "project_types": labels(v.PROJECT_TYPES, offer.project_types, lang),
        "legal_forms": labels(v.LEGAL_FORMS, offer.legal_forms, lang),
        "max_structure_age_months": offer.max_structure_age_months,
        "employer": offer.employer,
        "cost": labelled(v.COSTS, offer.cost, lang),
        "modes_accueil": labels(v.MODES_ACCUEIL, offer.modes_accueil, lang),
        "required_information": labels(v.REQUIRED_INFORMATION, offer.required_information, lang),
        "territories": [
            {"level": level, "code": code, "name": geo.name_of(level, code)}
            for level, code in offer.territories
        ],
        "updated_at": offer.updated_at.isoformat() if offer.updated_at else None,
    }


def reasons_view(geo: Geography, why: Reasons, lang: str) -> dict[str, Any]:
    return {
        "territory": {
            "level": why.territory_level,
            "level_label": v.label(LEVEL_LABELS, why.territory_level, lang),
            "code": why.territory_code,
            "name": geo.name_of(why.territory_level, why.territory_code),
        },
        "stage": None if why.stage is None else labelled(v.STAGES, why.stage, lang),
        "themes": labels(v.THEMES, why.themes, lang),
        "generalist": why.generalist,
        "eligibility": labels(ELIGIBILITY, why.eligibility, lang),
        "to_check": labels(ELIGIBILITY, why.to_check, lang),
    }


def _offer_parts(
    index: OfferIndex, geo: Geography, offer: IndexedOffer, lang: str
) -> tuple[str, str]:
    """The JSON text of a result around its score and reasons, cached per offer and language."""
    key = ("result", offer.id, lang)
    parts: tuple[str, str] | None = index.cache.get(key)
    if parts is None:
        head = (
            '{"offer":'
            + dumps(offer_view(geo, offer, lang))
            + ',"member":'
            + dumps({"id": offer.member_id, "name": offer.member_name})
            + ',"score":'
        )
        tail = ',"capacity":' + dumps(labelled(v.CAPACITIES, offer.capacity, lang)) + "}"
        parts = index.cache[key] = (head, tail)
    return parts


def _codes_json(index: OfferIndex, vocabulary: v.Labels, codes: tuple[str, ...], lang: str) -> str:
    key = (id(vocabulary), codes, lang)
    text: str | None = index.cache.get(key)
    if text is None:
        text = index.cache[key] = dumps(labels(vocabulary, codes, lang))
    return text


def _reasons_json(index: OfferIndex, geo: Geography, why: Reasons, lang: str) -> str:
    """`reasons_view` as JSON text, joined from parts cached per territory, stage, codes."""
    key = ("territory", why.territory_level, why.territory_code, lang)
    territory: str | None = index.cache.get(key)
    if territory is None:
        territory = index.cache[key] = dumps(reasons_view(geo, why, lang)["territory"])
    stage = "null" if why.stage is None else _codes_json(index, v.STAGES, (why.stage,), lang)[1:-1]
    themes = _codes_json(index, v.THEMES, why.themes, lang)
    passed = _codes_json(index, ELIGIBILITY, why.eligibility, lang)
    to_check = _codes_json(index, ELIGIBILITY, why.to_check, lang)
    generalist = "true" if why.generalist else "false"
    return (
        f'{{"territory":{territory},"stage":{stage},"themes":{themes},'
        f'"generalist":{generalist},"eligibility":{passed},"to_check":{to_check}}}'
    )


def match_json(
    index: OfferIndex,
    geo: Geography,
    commune: Commune,
    results: list[MatchResult],
    *,
    lang: str = "fr",
    limit: int = 50,
) -> str:
    """`{"commune": {...}, "count": n, "results": [...]}`: `count` is every match, `results`
    the first `limit` of them."""
    rendered = []
    for result in results[:limit]:
        head, tail = _offer_parts(index, geo, result.offer, lang)
        reasons = _reasons_json(index, geo, result.reasons, lang)
        rendered.append(f'{head}{result.score},"reasons":{reasons}{tail}')
    return (
        '{"commune":'
        + dumps(commune_view(geo, commune))
        + ',"count":'
        + str(len(results))
        + ',"results":['
        + ",".join(rendered)
        + "]}"
    )


def _place(p: Place) -> dict[str, Any]:
    return {"level": p.level, "code": p.code, "name": p.name, "population": p.population}


def coverage_view(result: Coverage, lang: str) -> dict[str, Any]:
    return {
        "region": _place(result.region),
        "by": result.by,
        "stages": labels(v.STAGES, result.stages, lang),
        "kinds": labels(v.OFFER_KINDS, result.kinds, lang),
        "territories": [
            {**_place(row.territory), "counts": row.counts, "partial": row.partial}
            for row in result.rows
        ],
        "gap_count": len(result.gaps),
        "gaps": [
            {
                "territory": _place(gap.territory),
                "stage": labelled(v.STAGES, gap.stage, lang),
                "kind": labelled(v.OFFER_KINDS, gap.kind, lang),
                "partial_offers": gap.partial_offers,
                "population_without_offer": gap.population_without_offer,
            }
            for gap in result.gaps
        ],
    }
