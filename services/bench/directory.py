"""`relais bench directory`: match latency on a synthetic national directory.

About 20,000 offers over the whole of France (2,000 structures placed by population, offers on
their commune, EPCI, département, région or nationwide; mixed kinds, stages, themes and
eligibility; fixed seed) in a temporary SQLite database. One client sends searches on random
communes (half drawn by population, half uniformly) with random criteria, three ways:

* in-process: `loader.current()` + `match_payload()` — what `GET /v1/match` runs;
* HTTP: `GET /v1/match` through the FastAPI router (httpx ASGITransport, no network);
* baseline: the same lookup as one raw SQL query on the same database (territory join on the
  commune's (level, code) pairs, stage and eligibility through SQLite JSON functions), which
  returns the matching ids, unranked and unrendered.

The result sets of the first searches are compared between the index and the SQL query.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert, text

from services.bench.common import Report, percentile
from services.directory import vocabulary as v
from services.directory.api_match import answer_match, router
from services.directory.geo import Commune, Geography, load
from services.directory.matching import Criteria, SearchStats, commune_keys, match
from services.directory.models import MODELS, Member, Offer, OfferTerritory
from services.directory.offer_index import OfferIndexLoader
from services.kit.db import Database, table_of
from services.kit.errors import install_error_handlers

SEED = 20260301
NOW = datetime(2026, 3, 1, tzinfo=UTC)
LEVEL_WEIGHTS = {"commune": 28, "epci": 30, "departement": 28, "region": 13, "national": 1}
KIND_WEIGHTS = {
    "accompagnement": 40,
    "financement": 20,
    "formation": 15,
    "information": 10,
    "hebergement_incubation": 8,
    "mise_en_reseau": 7,
}
STAGES = list(v.STAGES)
THEMES = list(v.THEMES)
LEGAL_FORMS = list(v.LEGAL_FORMS)


# --- the synthetic directory ----------------------------------------------------------------


@dataclass
class World:
    geo: Geography
    communes: list[Commune]
    by_population: list[float]  # cumulative weights
    by_epci: dict[str, list[Commune]]
    by_departement: dict[str, list[Commune]]
    departements_of_region: dict[str, list[str]]


def world(geo: Geography) -> World:
    communes = sorted(geo.communes.values(), key=lambda c: c.code)
    cumulative, total = [], 0.0
    by_epci: dict[str, list[Commune]] = {}
    by_dep: dict[str, list[Commune]] = {}
    deps: dict[str, set[str]] = {}
    for commune in communes:
        total += max(commune.population, 1)
        cumulative.append(total)
        if commune.epci:
            by_epci.setdefault(commune.epci, []).append(commune)
        by_dep.setdefault(commune.departement, []).append(commune)
        deps.setdefault(commune.region, set()).add(commune.departement)
    return World(
        geo, communes, cumulative, by_epci, by_dep, {r: sorted(d) for r, d in deps.items()}
    )


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _territories(rng: random.Random, w: World, home: Commune) -> list[tuple[str, str]]:
    level = _pick(rng, LEVEL_WEIGHTS)
    if level == "commune":
        pool = w.by_epci.get(home.epci or "", [home])
        return sorted(
            {("commune", home.code)}
            | {("commune", c.code) for c in rng.sample(pool, min(len(pool), rng.randint(0, 3)))}
        )
    if level == "epci" and home.epci:
        places = {("epci", home.epci)}
        if rng.random() < 0.2:  # a neighbouring EPCI of the département
            other = rng.choice(w.by_departement[home.departement]).epci
            if other:
                places.add(("epci", other))
        return sorted(places)
    if level in ("epci", "departement"):
        places = {("departement", home.departement)}
        if rng.random() < 0.15:
            places.add(("departement", rng.choice(w.departements_of_region[home.region])))
        return sorted(places)
    if level == "region":
        return [("region", home.region)]
    return [("national", "FR")]


def synthetic_rows(
    w: World, n_offers: int, n_members: int, seed: int = SEED
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(members, offers, offer territories) as plain rows, the same for the same seed."""
    rng = random.Random(seed)
    homes = rng.choices(w.communes, cum_weights=w.by_population, k=n_members)
    members: list[dict[str, Any]] = [
        {
            "id": f"mbr_{i:05d}",
            "name": f"Structure {i:05d} ({home.name})",
            "commune": home.code,
            "circle": "premier_cercle" if rng.random() < 0.6 else "second_cercle",
            "schemes": [],
            "national_networks": [],
            "status": "suspended" if rng.random() < 0.02 else "active",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i, home in enumerate(homes)
    ]
    offers: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    for i in range(n_offers):
        owner = rng.randrange(n_members)
        first = rng.randrange(len(STAGES))
        stages = STAGES[first : first + rng.choice((1, 1, 2, 2, 3))]
        offer_id = f"off_{i:06d}"
        offers.append(
            {
                "id": offer_id,
                "member_id": members[owner]["id"],
                "title": f"Offre {i}",
                "description": "Accompagnement synthétique pour le banc d'essai.",
                "kind": _pick(rng, KIND_WEIGHTS),
                "stages": stages,
                "themes": rng.sample(THEMES, rng.choice((0, 0, 1, 1, 2, 3))),
                "project_types": rng.choice(([], [], [], [], ["individual"], ["collective"])),
                "legal_forms": [] if rng.random() < 0.75 else rng.sample(LEGAL_FORMS, 3),
                "max_structure_age_months": rng.choice((None,) * 8 + (24, 36, 60)),
                "employer": rng.choice((None,) * 17 + (True, True, False)),
                "cost": rng.choice(list(v.COSTS)),
                "modes_accueil": ["en_presentiel"],
                "capacity": rng.choice(("open",) * 15 + ("waitlist",) * 3 + ("full",) * 2),
                "required_information": ["description_projet", "stade"],
                "url": None,
                "contact_email": None,
                "status": "withdrawn" if rng.random() < 0.04 else "published",
                "created_at": NOW - timedelta(days=900),
                "updated_at": NOW - timedelta(days=rng.randrange(720), minutes=i),
            }
        )
        home = w.geo.communes[members[owner]["commune"]]
        places += [
            {"offer_id": offer_id, "level": level, "code": code}
            for level, code in _territories(rng, w, home)
        ]
    return members, offers, places


async def build_database(url: str, w: World, n_offers: int, n_members: int) -> Database:
    db = Database(url, MODELS)
    await db.create_all()
    members, offers, places = synthetic_rows(w, n_offers, n_members)
    async with db.engine.begin() as conn:
        await conn.execute(insert(table_of(Member)), members)
        await conn.execute(insert(table_of(Offer)), offers)
        await conn.execute(insert(table_of(OfferTerritory)), places)
        if db.is_sqlite:
            await conn.execute(text("ANALYZE"))
    return db


# --- the searches -----------------------------------------------------------------------------


def searches(w: World, n: int, seed: int = SEED + 1) -> list[Criteria]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            commune = rng.choices(w.communes, cum_weights=w.by_population)[0]
        else:
            commune = rng.choice(w.communes)
        out.append(
            Criteria(
                commune=commune.code,
                stage=rng.choice(STAGES) if rng.random() < 0.9 else None,
                themes=tuple(rng.sample(THEMES, rng.choice((0, 1, 1, 2)))),
                kind=_pick(rng, KIND_WEIGHTS) if rng.random() < 0.4 else None,
                project=rng.choice(("individual", "collective")) if rng.random() < 0.5 else None,
                legal_form=rng.choice(LEGAL_FORMS) if rng.random() < 0.3 else None,
                structure_age_months=rng.randrange(0, 120) if rng.random() < 0.3 else None,
                employer=rng.choice((True, False)) if rng.random() < 0.3 else None,
                include_full=rng.random() < 0.2,
            )
        )
    return out


def query_params(c: Criteria) -> dict[str, str]:
    params = {"commune": c.commune}
    optional: Iterable[tuple[str, object]] = (
        ("stage", c.stage),
        ("themes", ",".join(c.themes) or None),
        ("kind", c.kind),
        ("project", c.project),
        ("legal_form", c.legal_form),
        ("structure_age_months", c.structure_age_months),
        ("employer", None if c.employer is None else str(c.employer).lower()),
        ("include_full", "true" if c.include_full else None),
    )
    params.update({k: str(value) for k, value in optional if value is not None})
    return params


def baseline_sql(c: Criteria, commune: Commune) -> tuple[str, dict[str, Any]]:
    """The same lookup (territory, stage, kind, capacity, eligibility) as one SQL query."""
    params: dict[str, Any] = {}
    pairs = []
    for i, (level, code) in enumerate(commune_keys(commune)):
        pairs.append(f"(t.level = :l{i} AND t.code = :c{i})")
        params[f"l{i}"], params[f"c{i}"] = level, code
    where = [f"({' OR '.join(pairs)})", "o.status = 'published'", "m.status = 'active'"]
    if c.stage:
        where.append("EXISTS (SELECT 1 FROM json_each(o.stages) s WHERE s.value = :stage)")
        params["stage"] = c.stage
    if c.kind:
        where.append("o.kind = :kind")
        params["kind"] = c.kind
    if not c.include_full:
        where.append("o.capacity != 'full'")
    for column, value in (("project_types", c.project), ("legal_forms", c.legal_form)):
        if value is not None:
            where.append(
                f"(json_array_length(o.{column}) = 0 OR EXISTS "
                f"(SELECT 1 FROM json_each(o.{column}) j WHERE j.value = :{column}))"
            )
            params[column] = value
    if c.structure_age_months is not None:
        where.append("(o.max_structure_age_months IS NULL OR o.max_structure_age_months >= :age)")
        params["age"] = c.structure_age_months
    if c.employer is not None:
        where.append("(o.employer IS NULL OR o.employer = :employer)")
        params["employer"] = c.employer
    sql = (
        "SELECT DISTINCT o.id FROM directory_offer_territory t "
        "JOIN directory_offer o ON o.id = t.offer_id "
        "JOIN directory_member m ON m.id = o.member_id WHERE " + " AND ".join(where)
    )
    return sql, params


# --- the measure ---------------------------------------------------------------------------------


def _summary(latencies: list[float]) -> tuple[float, float, float]:
    return percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99)


async def run(*, quick: bool) -> Report:
    n_offers, n_members = 20_000, 2_000
    n_queries = 1_000 if quick else 5_000
    n_warmup, n_checked = 200, 300
    started = time.perf_counter()
    geo = load()
    w = world(geo)
    report = Report("directory", "raw SQL query")
    with tempfile.TemporaryDirectory(prefix="relais-bench-directory-") as tmp:
        db = await build_database(
            f"sqlite+aiosqlite:///{Path(tmp) / 'directory.db'}", w, n_offers, n_members
        )
        try:
            loader = OfferIndexLoader(db, recheck_seconds=3600)
            t0 = time.perf_counter()
            index = await loader.current()
            build_ms = (time.perf_counter() - t0) * 1000
            queries = searches(w, n_queries + n_warmup)
            warmup, measured = queries[:n_warmup], queries[n_warmup:]
            stats = SearchStats(geo)

            # The index's answer and the SQL query's must be the same set of offers.
            mismatches = 0
            found = sum(len(match(index, geo, criteria)) for criteria in measured)
            async with db.engine.connect() as conn:
                for criteria in measured[:n_checked]:
                    sql, params = baseline_sql(criteria, geo.communes[criteria.commune])
                    expected = {row[0] for row in (await conn.execute(text(sql), params)).all()}
                    ranked = {r.offer.id for r in match(index, geo, criteria)}
                    mismatches += expected != ranked

            async def in_process(criteria: Criteria) -> int:
                current = await loader.current()
                return len(answer_match(current, geo, criteria, limit=50, stats=stats))

            app = FastAPI()
            install_error_handlers(app)
            app.include_router(router)
            app.state.offer_index, app.state.search_stats = loader, stats
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def over_http(criteria: Criteria) -> int:
                    response = await client.get("/v1/match", params=query_params(criteria))
                    response.raise_for_status()
                    return int(response.json()["count"])

                async def raw_sql(criteria: Criteria) -> int:
                    sql, params = baseline_sql(criteria, geo.communes[criteria.commune])
                    async with db.engine.connect() as conn:
                        return len((await conn.execute(text(sql), params)).all())

                figures: dict[str, tuple[list[float], float]] = {}
                for name, call in (("index", in_process), ("http", over_http), ("sql", raw_sql)):
                    for criteria in warmup:
                        await call(criteria)
                    latencies: list[float] = []
                    t_start = time.perf_counter()
                    for criteria in measured:
                        t = time.perf_counter()
                        await call(criteria)
                        latencies.append((time.perf_counter() - t) * 1000)
                    elapsed = time.perf_counter() - t_start
                    figures[name] = (latencies, len(measured) / elapsed)
        finally:
            await db.dispose()
    index_p = _summary(figures["index"][0])
    http_p = _summary(figures["http"][0])
    sql_p = _summary(figures["sql"][0])
    for pct, mine, base in zip((50, 95, 99), index_p, sql_p, strict=True):
        report.add(f"match p{pct}", mine, base, "ms", False)
    for pct, http, base in zip((50, 95, 99), http_p, sql_p, strict=True):
        report.add(f"HTTP p{pct}", http, base, "ms", False)
    report.add("match rate", figures["index"][1], figures["sql"][1], "queries/s")
    report.add("HTTP rate", figures["http"][1], figures["sql"][1], "queries/s")
    report.add("index build", build_ms, None, "ms", False)
    floor = "met" if http_p[1] <= 15 else "MISSED"
    report.notes += [
        f"{len(index)} published offers of active members indexed ({n_offers} offers, "
        f"{n_members} structures, {len(geo.communes)} communes); {len(measured)} searches per "
        f"way after {n_warmup} warm-up ones, one client; mean "
        f"{found / len(measured):.0f} offers found per search, up to 50 rendered.",
        "match: loader.current() + match() + rendering, in process; HTTP: GET /v1/match "
        "through httpx ASGITransport; baseline: one SQL query returning the ids (unranked).",
        f"Index and SQL agree on {n_checked - mismatches}/{n_checked} searches; "
        f"floor p95 <= 15 ms (HTTP): {floor}; whole run {time.perf_counter() - started:.0f} s.",
    ]
    return report
