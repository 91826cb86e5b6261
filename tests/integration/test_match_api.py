"""The public matching API on a real database: match, 422 suggestions, coverage, communes, and
the index reloading after a change (on both SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select

from contracts.events.directory import SearchStatistics
from services.directory.api_match import (
    SEARCH_STATS_TIMER,
    flush_search_statistics,
    flush_search_statistics_now,
    router,
    start_search_statistics,
)
from services.directory.geo import load
from services.directory.handlers.common import OFFERS_CHANGED
from services.directory.matching import SearchStats
from services.directory.models import MODELS, Member, Offer, OfferTerritory
from services.directory.offer_index import OfferIndexLoader
from services.kit.clock import ManualClock
from services.kit.db import Database, mark_dirty
from services.kit.errors import install_error_handlers
from services.kit.outbox import Emitter, OutboxRecord
from services.kit.runtime import KIT_MODELS
from services.kit.timers import Fired, TimerRecord, TimerRunner

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Api:
    client: httpx.AsyncClient
    db: Database
    loader: OfferIndexLoader
    stats: SearchStats


def member(member_id: str, name: str, status: str = "active") -> Member:
    return Member(id=member_id, name=name, status=status, created_at=NOW, updated_at=NOW)


def offer(
    offer_id: str,
    member_id: str,
    *,
    kind: str = "accompagnement",
    stages: list[str] | None = None,
    **fields: object,
) -> Offer:
    return Offer(
        id=offer_id,
        member_id=member_id,
        title=f"Offre {offer_id}",
        kind=kind,
        stages=stages or ["creation"],
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def seed() -> list[tuple[Offer, list[tuple[str, str]]]]:
    """Fresh rows for each test (ORM objects remember the session they were saved in)."""
    return [
        (offer("off_amiens", "mbr_a", themes=["culture"]), [("commune", "80021")]),
        (offer("off_metropole", "mbr_a", kind="financement"), [("epci", "248000531")]),
        (offer("off_somme", "mbr_b", stages=["idee", "creation"]), [("departement", "80")]),
        (offer("off_hdf", "mbr_b", kind="formation"), [("region", "32")]),
        (offer("off_national", "mbr_c", kind="information"), [("national", "FR")]),
        (offer("off_oise", "mbr_b"), [("departement", "60")]),
        (offer("off_solo", "mbr_b", project_types=["individual"]), [("departement", "80")]),
        (offer("off_full", "mbr_a", capacity="full"), [("commune", "80021")]),
        (offer("off_withdrawn", "mbr_a", status="withdrawn"), [("departement", "80")]),
        (offer("off_suspended", "mbr_s"), [("departement", "80")]),
        # Idée-stage accompaniment everywhere in the région but the Aisne (02): a deliberate gap.
        *[
            (offer(f"off_idee_{dep}", "mbr_c", stages=["idee"]), [("departement", dep)])
            for dep in ("59", "60", "62", "80")
        ],
    ]


async def add_offer(db: Database, row: Offer, where: list[tuple[str, str]], *, wake: bool) -> None:
    async with db.transaction() as session:
        session.add(row)
        await session.flush()
        for level, code in where:
            session.add(OfferTerritory(offer_id=row.id, level=level, code=code))
        if wake:
            mark_dirty(session, OFFERS_CHANGED)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    db = Database(database_url, MODELS)
    await db.create_all()
    async with db.transaction() as session:
        session.add(member("mbr_a", "Tremplin Amiens"))
        session.add(member("mbr_b", "Fabrique de la Somme"))
        session.add(member("mbr_c", "Réseau national"))
        session.add(member("mbr_s", "Structure suspendue", status="suspended"))
    for row, where in seed():
        await add_offer(db, row, where, wake=False)
    loader = OfferIndexLoader(db, recheck_seconds=3600)
    stats = SearchStats(load())
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.offer_index = loader
    app.state.search_stats = stats
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://directory") as client:
        yield Api(client, db, loader, stats)
    await db.dispose()


def ids(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [r["offer"]["id"] for r in body["results"]]


async def test_match_for_a_creation_stage_collective_project_in_amiens(api: Api) -> None:
    response = await api.client.get(
        "/v1/match", params={"commune": "80021", "stage": "creation", "project": "collective"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["commune"]["name"] == "Amiens"
    assert body["commune"]["epci"]["code"] == "248000531"
    assert body["commune"]["region"] == {"code": "32", "name": "Hauts-de-France"}
    assert ids(body) == ["off_amiens", "off_metropole", "off_somme", "off_hdf", "off_national"]
    assert body["count"] == 5
    levels = [r["reasons"]["territory"]["level"] for r in body["results"]]
    assert levels == ["commune", "epci", "departement", "region", "national"]
    first = body["results"][0]
    assert first["member"] == {"id": "mbr_a", "name": "Tremplin Amiens"}
    assert first["reasons"]["stage"] == {"code": "creation", "label": "Création"}
    assert first["reasons"]["eligibility"] == [{"code": "project_type", "label": "Type de projet"}]
    assert first["capacity"] == {"code": "open", "label": "Places disponibles"}
    assert first["offer"]["kind"] == {"code": "accompagnement", "label": "Accompagnement"}
    assert body["results"][1]["offer"]["kind"]["label"] == "Financement"
    assert api.stats.pending == 1


async def test_full_offers_only_when_asked_and_labels_in_english(api: Api) -> None:
    response = await api.client.get(
        "/v1/match",
        params={"commune": "80021", "stage": "creation", "include_full": "true", "lang": "en"},
    )
    body = response.json()
    assert ids(body)[-1] == "off_full"
    assert body["results"][-1]["capacity"] == {"code": "full", "label": "Full"}
    assert "off_solo" in ids(body)  # no project type given: not excluded, to check
    solo = next(r for r in body["results"] if r["offer"]["id"] == "off_solo")
    assert solo["reasons"]["to_check"] == [{"code": "project_type", "label": "Project type"}]
    assert body["results"][0]["offer"]["stages"] == [{"code": "creation", "label": "Creation"}]


async def test_themes_repeated_or_comma_separated(api: Api) -> None:
    one = await api.client.get("/v1/match", params={"commune": "80021", "themes": "culture,iae"})
    two = await api.client.get(
        "/v1/match", params=[("commune", "80021"), ("themes", "culture"), ("themes", "iae")]
    )
    assert ids(one.json()) == ids(two.json())
    culture = one.json()["results"][0]
    assert culture["reasons"]["themes"] == [{"code": "culture", "label": "Culture"}]


async def test_unknown_commune_gets_a_422_with_suggestions(api: Api) -> None:
    response = await api.client.get("/v1/match", params={"commune": "80999"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "geo.unknown_commune"
    assert "80999" in error["message"]
    assert error["details"] and {"code", "name", "postcodes"} <= set(error["details"][0])
    # A postcode typed as a commune code: the communes with that postcode are suggested.
    response = await api.client.get("/v1/match", params={"commune": "80000"})
    assert response.status_code == 422
    suggestions = response.json()["error"]["details"]
    assert {"code": "80021", "name": "Amiens"}.items() <= suggestions[0].items()
    assert "80000" in suggestions[0]["postcodes"]


async def test_invalid_codes_get_a_422_naming_the_valid_ones(api: Api) -> None:
    response = await api.client.get("/v1/match", params={"commune": "80021", "stage": "lancement"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation" and "lancement" in error["message"]
    assert "creation" in error["details"][0]["valid"]
    response = await api.client.get("/v1/match", params={"commune": "80021", "themes": "x,culture"})
    assert response.json()["error"]["details"][0]["field"] == "themes"
    for params in (
        {"commune": "80021", "structure_age_months": "deux"},
        {"commune": "80021", "employer": "peut-être"},
        {"commune": "80021", "limit": "0"},
        {"stage": "idee"},  # no commune
    ):
        response = await api.client.get("/v1/match", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation"
    limited = await api.client.get("/v1/match", params={"commune": "80021", "limit": "2"})
    assert limited.json()["count"] == 7 and len(limited.json()["results"]) == 2


async def test_coverage_lists_the_deliberate_gap(api: Api) -> None:
    response = await api.client.get("/v1/coverage", params={"region": "32"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["region"]["name"] == "Hauts-de-France"
    gaps = [(g["territory"]["code"], g["stage"]["code"], g["kind"]["code"]) for g in body["gaps"]]
    assert ("02", "idee", "accompagnement") in gaps
    assert not [g for g in gaps if g[1:] == ("idee", "accompagnement") and g[0] != "02"]
    aisne = next(g for g in body["gaps"] if g["territory"]["code"] == "02")
    assert aisne["territory"]["name"] == "Aisne" and aisne["population_without_offer"] > 500_000
    somme = next(t for t in body["territories"] if t["code"] == "80")
    # off_somme and off_solo; neither the withdrawn offer nor the suspended member's
    assert somme["counts"]["creation"]["accompagnement"] == 2
    by_epci = await api.client.get("/v1/coverage", params={"region": "32", "by": "epci"})
    assert by_epci.status_code == 200
    assert len(by_epci.json()["territories"]) > 80
    unknown = await api.client.get("/v1/coverage", params={"region": "99"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "geo.unknown_territory"


async def test_communes_autocomplete(api: Api) -> None:
    body = (await api.client.get("/v1/communes", params={"q": "amie"})).json()
    assert body["results"][0]["code"] == "80021"
    body = (await api.client.get("/v1/communes", params={"q": "80000"})).json()
    assert body["results"][0]["name"] == "Amiens"
    body = (await api.client.get("/v1/communes", params={"q": "sa"})).json()
    assert body["count"] == 20
    assert (await api.client.get("/v1/communes", params={"q": ""})).status_code == 422


async def test_the_index_reloads_after_invalidate(api: Api) -> None:
    before = await api.loader.current()
    assert "off_new" not in before.offers and "off_withdrawn" not in before.offers
    assert "off_suspended" not in before.offers  # its member is suspended
    await add_offer(api.db, offer("off_new", "mbr_a"), [("commune", "80021")], wake=False)
    assert await api.loader.current() is before  # nobody said offers changed
    api.loader.invalidate()
    builds = api.loader.builds
    concurrent = await asyncio.gather(*(api.loader.current() for _ in range(10)))
    assert api.loader.builds == builds + 1  # one rebuild for all the waiting requests
    assert all(index is concurrent[0] for index in concurrent)
    assert "off_new" in concurrent[0].offers
    # A commit that marks offers changed invalidates by itself.
    await add_offer(api.db, offer("off_newer", "mbr_b"), [("departement", "80")], wake=True)
    response = await api.client.get("/v1/match", params={"commune": "80021"})
    assert {"off_new", "off_newer"} <= set(ids(response.json()))


async def test_another_instance_change_is_seen_by_the_fingerprint(api: Api) -> None:
    api.loader.recheck_seconds = 0
    before = await api.loader.current()
    assert await api.loader.current() is before  # nothing changed: no rebuild
    async with api.db.transaction() as session:
        row = await session.get(Member, "mbr_s")
        assert row is not None
        row.status, row.updated_at = "active", datetime(2026, 3, 3, tzinfo=UTC)
        session.add(row)
    assert "off_suspended" in (await api.loader.current()).offers


async def test_search_statistics_are_published_every_hour(database_url: str) -> None:
    db = Database(database_url, [*KIT_MODELS, *MODELS])
    await db.create_all()
    clock = ManualClock(datetime(2026, 3, 2, 9, 20, tzinfo=UTC))
    emit = Emitter("/relais/directory", clock)
    stats = SearchStats(load())

    async def handler(fired: Fired) -> None:
        await flush_search_statistics(fired, stats, emit, min_count=5)

    runner = TimerRunner(db, clock, {SEARCH_STATS_TIMER: handler})
    try:
        await start_search_statistics(db, clock, stats)
        for _ in range(6):
            stats.record("80021", "creation", found=True)
        stats.record("80001", "creation", found=False)  # alone in its EPCI: suppressed
        assert await runner.run_due() == 0  # not before 10:00
        clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        assert await runner.run_due() == 1
        async with db.session() as session:
            rows = (await session.exec(select(OutboxRecord))).all()
            timer = (
                await session.exec(
                    select(TimerRecord).where(TimerRecord.kind == SEARCH_STATS_TIMER)
                )
            ).one()
        assert [r.type for r in rows] == [SearchStatistics.type_name]
        assert rows[0].key is None
        data = rows[0].data
        assert data["territory"] == {"level": "epci", "code": "248000531"}
        assert (data["searches"], data["searches_without_result"]) == (6, 0)
        assert data["period_start"] == "2026-03-02T09:20:00+00:00"
        assert data["period_end"] == "2026-03-02T10:00:00+00:00"
        assert timer.state == "pending"
        assert timer.due_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # back in an hour
        # At shutdown, what was counted since is staged too (min_count still applies).
        for _ in range(5):
            stats.record("80021", "idee", found=False)
        clock.set(datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
        assert await flush_search_statistics_now(db, clock, stats, emit) == 1
        assert await flush_search_statistics_now(db, clock, stats, emit) == 0
    finally:
        await db.dispose()
