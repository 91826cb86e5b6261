"""Public matching endpoints (no auth, no personal data): match, coverage, communes.

The router reads two objects the app provides: `app.state.offer_index` (an object with
`async current() -> OfferIndex`, see `offer_index.OfferIndexLoader`) and, optionally,
`app.state.search_stats` (a `SearchStats` counting each match) and `app.state.geo`.

`GET /v1/match` is the hot path: its query is parsed by hand (the parameters are documented in
the OpenAPI all the same) and its answer is JSON text joined from fragments cached on the
index (`matching.views`): no pydantic, no per-request serialisation of the offers.

Also here: the timer handler that publishes the search statistics every hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import QueryParams

from contracts.base import Event
from services.directory import vocabulary as v
from services.directory.geo import Geography, load
from services.directory.matching import (
    Criteria,
    OfferIndex,
    SearchStats,
    UnknownTerritory,
    coverage,
    match,
    places,
    themes_of,
)
from services.directory.matching.views import commune_view, coverage_view, dumps, match_json
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.errors import ApiError, request_lang
from services.kit.timers import Fired, ensure_scheduled, schedule

router = APIRouter(tags=["matching"])

SEARCH_STATS_TIMER = "directory.search_stats"
SEARCH_STATS_KEY = "hourly"
MAX_LIMIT = 500


def json_response(text: str) -> Response:
    return Response(text.encode(), media_type="application/json")


async def offer_index(request: Request) -> OfferIndex:
    index: OfferIndex = await request.app.state.offer_index.current()
    return index


def geography(request: Request) -> Geography:
    geo: Geography | None = getattr(request.app.state, "geo", None)
    return geo or load()


def unknown_commune(geo: Geography, code: str) -> ApiError:
    suggestions = [
        {"code": c.code, "name": c.name, "postcodes": list(c.postcodes)} for c in geo.suggest(code)
    ]
    return ApiError(422, "geo.unknown_commune", details=suggestions, value=code)


# --- query parsing -----------------------------------------------------------------------

CODES: dict[str, tuple[v.Labels, str, str]] = {
    "stage": (v.STAGES, "stade", "stage"),
    "kind": (v.OFFER_KINDS, "type d'offre", "offer kind"),
    "themes": (v.THEMES, "thème", "theme"),
    "project": (v.PROJECT_TYPES, "type de projet", "project type"),
    "legal_form": (v.LEGAL_FORMS, "forme juridique", "legal form"),
}
TRUE, FALSE = {"true", "1", "yes", "on", "oui"}, {"false", "0", "no", "off", "non"}


def invalid(field: str, problem: str, valid: list[str] | None = None) -> ApiError:
    detail: dict[str, Any] = {"field": field, "problem": problem}
    if valid is not None:
        detail["valid"] = valid
    return ApiError(422, "validation", details=[detail], summary=f"{field} : {problem}")


def _codes(field: str, codes: tuple[str, ...], lang: str) -> None:
    vocabulary, fr, en = CODES[field]
    bad = v.unknown(vocabulary, codes)
    if bad:
        valid = ", ".join(vocabulary)
        problem = (
            f"unknown {en} '{', '.join(bad)}'; valid codes: {valid}"
            if lang == "en"
            else f"{fr} inconnu·e « {', '.join(bad)} » ; codes possibles : {valid}"
        )
        raise invalid(field, problem, list(vocabulary))


def _code(query: QueryParams, field: str, lang: str) -> str | None:
    raw = (query.get(field) or "").strip()
    if not raw:
        return None
    _codes(field, (raw,), lang)
    return raw


def _int(query: QueryParams, field: str, lo: int, hi: int, lang: str) -> int | None:
    raw = (query.get(field) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise invalid(
            field,
            f"expected a whole number from {lo} to {hi}, got '{raw}'"
            if lang == "en"
            else f"nombre entier de {lo} à {hi} attendu, reçu « {raw} »",
        )
    return value


def _bool(query: QueryParams, field: str, lang: str) -> bool | None:
    raw = (query.get(field) or "").strip().lower()
    if not raw:
        return None
    if raw in TRUE or raw in FALSE:
        return raw in TRUE
    raise invalid(
        field,
        f"expected true or false, got '{raw}'"
        if lang == "en"
        else f"true ou false attendu, reçu « {raw} »",
    )


def parse_match_query(query: QueryParams, lang: str) -> tuple[Criteria, int]:
    """The criteria and the limit of a `/v1/match` query, or a 422 a person can act on."""
    commune = (query.get("commune") or "").strip()
    if not commune:
        raise invalid(
            "commune",
            "required: the INSEE code of the project's commune"
            if lang == "en"
            else "obligatoire : le code INSEE de la commune du projet",
        )
    themes = themes_of(query.getlist("themes"))
    _codes("themes", themes, lang)
    criteria = Criteria(
        commune=commune,
        stage=_code(query, "stage", lang),
        themes=themes,
        kind=_code(query, "kind", lang),
        project=_code(query, "project", lang),
        legal_form=_code(query, "legal_form", lang),
        structure_age_months=_int(query, "structure_age_months", 0, 1200, lang),
        employer=_bool(query, "employer", lang),
        include_full=bool(_bool(query, "include_full", lang)),
    )
    limit = _int(query, "limit", 1, MAX_LIMIT, lang)
    return criteria, 50 if limit is None else limit


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _enum(vocabulary: v.Labels) -> dict[str, Any]:
    return {"type": "string", "enum": list(vocabulary)}


MATCH_PARAMETERS = [
    _param("commune", {"type": "string"}, "Code INSEE de la commune du projet", required=True),
    _param("stage", _enum(v.STAGES), "Stade du projet"),
    _param(
        "themes",
        {"type": "array", "items": _enum(v.THEMES)},
        "Thèmes, répétés ou séparés par des virgules : ils classent, ils ne filtrent pas",
    ),
    _param("kind", _enum(v.OFFER_KINDS), "Type d'offre"),
    _param("project", _enum(v.PROJECT_TYPES), "Projet individuel ou collectif"),
    _param("legal_form", _enum(v.LEGAL_FORMS), "Forme juridique de la structure"),
    _param(
        "structure_age_months",
        {"type": "integer", "minimum": 0, "maximum": 1200},
        "Âge de la structure en mois",
    ),
    _param("employer", {"type": "boolean"}, "La structure est-elle employeuse ?"),
    _param(
        "include_full",
        {"type": "boolean", "default": False},
        "Inclure les offres complètes (toujours en dernier)",
    ),
    _param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        "Nombre de résultats rendus (count les compte tous)",
    ),
    _param("lang", {"type": "string", "enum": ["fr", "en"]}, "Langue des libellés"),
]


# --- endpoints -----------------------------------------------------------------------------


@router.get(
    "/v1/match",
    summary="Offres qui couvrent une commune, classées, avec leurs raisons",
    description=(
        "Les offres publiées dont le territoire couvre la commune, au stade et du type "
        "demandés, que l'éligibilité n'exclut pas ; classées du plus local au national, puis "
        "par thèmes communs, capacité et fraîcheur. Les offres complètes viennent en dernier, "
        "seulement avec include_full=true. Chaque résultat dit pourquoi il convient."
    ),
    openapi_extra={"parameters": MATCH_PARAMETERS},
)
async def get_match(request: Request) -> Response:
    lang = request_lang(request)
    criteria, limit = parse_match_query(request.query_params, lang)
    stats: SearchStats | None = getattr(request.app.state, "search_stats", None)
    index = await offer_index(request)
    return json_response(
        answer_match(index, geography(request), criteria, lang=lang, limit=limit, stats=stats)
    )


def answer_match(
    index: OfferIndex,
    geo: Geography,
    criteria: Criteria,
    *,
    lang: str = "fr",
    limit: int = 50,
    stats: SearchStats | None = None,
) -> str:
    """The JSON text `GET /v1/match` answers (ApiError 422 for an unknown commune)."""
    commune = geo.commune(criteria.commune)
    if commune is None:
        raise unknown_commune(geo, criteria.commune)
    results = match(index, geo, criteria, commune=commune)
    if stats is not None:
        stats.record(commune.code, criteria.stage, bool(results))
    return match_json(index, geo, commune, results, lang=lang, limit=limit)


@router.get("/v1/coverage", summary="Couverture d'une région : territoire × stade × type, lacunes")
async def get_coverage(
    request: Request,
    region: Annotated[str, Query(min_length=1, max_length=3, description="Code INSEE de région")],
    by: Annotated[Literal["departement", "epci"], Query()] = "departement",
    lang: Annotated[Literal["fr", "en"] | None, Query()] = None,
) -> Response:
    geo = geography(request)
    try:
        result = coverage(await offer_index(request), geo, region, by)
    except UnknownTerritory as exc:
        regions = [{"code": code, "name": area.name} for code, area in sorted(geo.regions.items())]
        raise ApiError(
            422, "geo.unknown_territory", details=regions, level=exc.level, value=exc.code
        ) from exc
    return json_response(dumps(coverage_view(result, request_lang(request))))


@router.get("/v1/communes", summary="Communes par début de nom, code postal ou code INSEE")
async def get_communes(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 20,
) -> Response:
    geo = geography(request)
    found = places(geo).search(q, limit)
    return json_response(
        dumps({"count": len(found), "results": [commune_view(geo, c) for c in found]})
    )


# --- search statistics: published every hour -------------------------------------------

Emit = Callable[[AsyncSession, Event], Any]


def next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


async def schedule_search_statistics(
    session: AsyncSession, now: datetime, *, key: str = SEARCH_STATS_KEY
) -> None:
    """Schedule (or move) the next publication at the next full hour."""
    await schedule(session, kind=SEARCH_STATS_TIMER, key=key, due_at=next_hour(now))


async def flush_search_statistics(
    fired: Fired, stats: SearchStats, emit: Emit, *, min_count: int = 5
) -> int:
    """Timer handler body: publish the period's aggregates, then come back in an hour."""
    now = fired.clock.now()
    events = stats.drain(now, min_count)
    for event in events:
        emit(fired.session, event)
    await schedule_search_statistics(fired.session, now, key=fired.timer.key)
    return len(events)


async def start_search_statistics(
    db: Database, clock: Clock, stats: SearchStats, *, key: str = SEARCH_STATS_KEY
) -> None:
    """At startup: open the counting period and make sure the hourly timer is pending."""
    now = clock.now()
    stats.start(now)
    async with db.transaction() as session:
        await ensure_scheduled(session, kind=SEARCH_STATS_TIMER, key=key, due_at=next_hour(now))


async def flush_search_statistics_now(
    db: Database, clock: Clock, stats: SearchStats, emit: Emit, *, min_count: int = 5
) -> int:
    """At shutdown: stage what was counted so far in the outbox (published at next start)."""
    if not stats.pending:
        return 0
    async with db.transaction() as session:
        events = stats.drain(clock.now(), min_count)
        for event in events:
            emit(session, event)
    return len(events)
