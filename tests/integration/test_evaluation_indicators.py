"""Indicators as projections, with the real broker and SQLite/PostgreSQL: duplicates and
interleaved journeys change nothing, a rebuild gives the same figures, access is scoped,
CSV parses, and the Starter ESS report shows a journey's entry and exit evaluations."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer

from contracts.base import Event
from contracts.envelope import CloudEvent, to_kafka
from contracts.events import directory as d
from contracts.events import referral as r
from services.bench.evaluation import TokenMint
from services.evaluation.grid.models import Evaluation
from services.evaluation.handlers.rebuild import rebuild
from services.evaluation.main import create_app
from services.evaluation.projections.facts import Projection
from services.evaluation.projections.figures import add, figures, zero
from services.evaluation.projections.rollups import RollupTotals
from services.evaluation.settings import EvaluationSettings
from services.evaluation.territory import territory_lookup
from services.kit.clock import ManualClock
from services.kit.embedded import free_port
from services.kit.runtime import ServiceRuntime
from tests.harness.stack import wait_until

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Service:
    url: str
    runtime: ServiceRuntime
    mint: TokenMint
    client: httpx.AsyncClient

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture
async def service(
    kafka_bootstrap: str, database_url: str, unique_name: Callable[..., str], tmp_path: Path
) -> AsyncIterator[Service]:
    settings = EvaluationSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        var_dir=tmp_path,
        consumer_group_prefix=unique_name("eval"),
        jwks_url=None,
    )
    app = create_app(settings, clock=ManualClock(NOW))
    mint = TokenMint()
    app.state.verifier = mint.verifier()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            yield Service(f"http://127.0.0.1:{port}", app.state.runtime, mint, client)
    finally:
        server.should_exit = True
        await task


def journeys(tag: str, network: str) -> list[CloudEvent]:
    """Two journeys of one network: a redirect chain ending in a created structure, and a
    decline for capacity; each event with its own id and business time."""
    a, b, c = (f"mbr_{tag}_{x}" for x in "abc")
    out: list[CloudEvent] = []

    def at(hours: float, event: Event) -> None:
        out.append(
            CloudEvent.wrap(event, source="/relais/referral", time=T0 + timedelta(hours=hours))
        )

    def ids(ref: str, project: str, sender: str, receiver: str) -> dict[str, str]:
        return {
            "project_id": project,
            "referral_id": ref,
            "sender_member_id": sender,
            "receiver_member_id": receiver,
        }

    one, two, three = f"ref_{tag}_1", f"ref_{tag}_2", f"ref_{tag}_3"
    p1, p2 = f"prj_{tag}_1", f"prj_{tag}_2"
    sent = {"network_id": network, "stage": "creation", "commune": "80021"}
    at(0, r.ReferralSent(**ids(one, p1, a, b), **sent))
    at(1, r.ReferralSent(**ids(three, p2, a, c), **sent))
    at(6, r.ReferralDeclined(**ids(one, p1, a, b), reason="reoriente_ailleurs", redirected_to=two))
    at(6, r.ReferralSent(**ids(two, p1, b, c), **sent, redirected_from=one))
    at(30, r.ReferralDeclined(**ids(three, p2, a, c), reason="capacite_atteinte"))
    at(50, r.ReferralAccepted(**ids(two, p1, b, c)))
    at(200, r.ReferralStarted(**ids(two, p1, b, c)))
    at(2000, r.ReferralCompleted(**ids(two, p1, b, c), outcome="structure_creee", jobs_created=2))
    return out


def expected_totals(events: list[CloudEvent]) -> dict[str, Any]:
    projection = Projection()
    lookup = territory_lookup()
    for e in events:
        projection.fold(e.id, e.type, e.time, e.data, lookup)
    sums = zero()
    for vector in RollupTotals.of(projection.referrals).rows["network"].values():
        add(sums, vector)
    return figures(sums, stuck=0)


async def publish(bootstrap: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for event in events:
            key, value, headers = to_kafka(event)
            await producer.send_and_wait(event_topic(event), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def event_topic(event: CloudEvent) -> str:
    return d.TOPIC if ".directory." in event.type else r.TOPIC


def comparable(totals: dict[str, Any]) -> dict[str, Any]:
    """The figures without the public search counts (other tests' searches share the topic)."""
    out = dict(totals)
    out["unmet_demand"] = {k: v for k, v in out["unmet_demand"].items() if "search" not in k}
    return out


async def test_duplicates_interleaving_and_rebuild_keep_the_clean_figures(
    service: Service, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    network = f"net_{tag}"
    clean = journeys(tag, network)
    messy = [*clean, clean[0], clean[5], clean[7]]  # delivered twice (same CloudEvents ids)
    random.Random(3).shuffle(messy)  # the two journeys interleaved, transitions out of order
    await publish(kafka_bootstrap, messy)
    admin = service.mint.token(roles=("platform_admin",))
    expected = comparable(expected_totals(clean))
    assert expected["referrals_received"] == 3 and expected["jobs_created"] == 2

    async def projected() -> dict[str, Any] | None:
        body = (await service.get("/v1/indicators", admin, network=network)).json()
        return body if comparable(body["totals"]) == expected else None

    await wait_until(projected, what="the indicators of the messy delivery", timeout=30)
    totals = (await service.get("/v1/indicators", admin, network=network)).json()["totals"]
    assert totals["unmet_demand"]["declined_capacity"] == 1
    assert totals["chains"] == {"chains": 2, "redirected": 1, "average_length": 1.5}
    assert totals["outcomes"]["structure_creee"] == 1
    assert totals["time_to_first_answer_hours"]["answered"] == 3

    queries: list[dict[str, str]] = [
        {"network": network},
        {"network": network, "group_by": "member"},
        {"network": network, "group_by": "month"},
        {"network": network, "departement": "80", "group_by": "stage"},
        {"network": network, "epci": "248000531"},
        {"member": f"mbr_{tag}_c"},
        {"member": f"mbr_{tag}_b", "stage": "creation", "epci": "248000531"},
    ]

    async def snapshot() -> list[dict[str, Any]]:
        out = []
        for params in queries:
            body = (await service.get("/v1/indicators", admin, **params)).json()
            body.pop("generation")
            out.append(body)
        return out

    before = await snapshot()
    assert before[5]["totals"]["referrals_received"] == 2  # c received two, answered both
    assert before[6]["level"] == "facts" and before[6]["totals"]["referrals_sent"] == 1
    result = await rebuild(service.runtime.db, territory_lookup(), now=NOW)
    assert result.events >= len(clean)
    after = await snapshot()
    assert after == before
    body = (await service.get("/v1/indicators", admin, network=network)).json()
    assert body["generation"] == result.generation


async def test_access_is_scoped_and_csv_parses(service: Service, kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    network = f"net_{tag}"
    events = journeys(tag, network)
    member_c = f"mbr_{tag}_c"
    events.append(
        CloudEvent.wrap(
            d.MemberRegistered(
                member_id=member_c, name="Starter", network_ids=[network], schemes=["starter_ess"]
            ),
            source="/relais/directory",
            time=T0,
        )
    )
    await publish(kafka_bootstrap, events)
    mint = service.mint
    operator = mint.token(roles=("network_operator",), networks=(network,))
    stranger = mint.token(roles=("network_operator",), networks=("net_other",))
    funder = mint.token(roles=("funder",), networks=(network,))
    adviser = mint.token(member=member_c)

    async def ready() -> bool:
        body = (await service.get("/v1/indicators", operator)).json()
        known = await service.get("/v1/reports/starter-ess", funder, member=member_c)
        return body["totals"]["referrals_received"] == 3 and known.status_code == 200

    await wait_until(ready, what="the network's indicators", timeout=30)
    mine = (await service.get("/v1/indicators", adviser)).json()
    assert mine["by_member"] == [  # its own counts, then its counterparts' towards it
        {"member_id": member_c, "sent": 0, "received": 2},
        {"member_id": f"mbr_{tag}_a", "sent": 1, "received": 0},
        {"member_id": f"mbr_{tag}_b", "sent": 1, "received": 0},
    ]
    assert (await service.get("/v1/indicators", adviser, member=f"mbr_{tag}_a")).status_code == 403
    assert (await service.get("/v1/indicators", stranger, network=network)).status_code == 403
    assert (await service.get("/v1/indicators", stranger)).json()["totals"]["referrals_sent"] == 0
    assert (await service.get("/v1/reports/network", adviser, network=network)).status_code == 403
    assert (
        await service.get("/v1/reports/starter-ess", stranger, member=member_c)
    ).status_code == 403

    grouped = await service.get("/v1/indicators", operator, group_by="member", format="csv")
    assert grouped.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(grouped.text)))
    by_member = {row["member"]: row for row in rows}
    assert by_member[member_c]["referrals_received"] == "2"
    assert by_member[f"mbr_{tag}_a"]["referrals_sent"] == "2"
    assert by_member["total"]["referrals_received"] == "3"
    via_accept = await service.client.get(
        service.url + "/v1/indicators",
        headers={"Authorization": f"Bearer {operator}", "Accept": "text/csv"},
    )
    assert via_accept.text.splitlines()[0].startswith("scope,")

    report = await service.get("/v1/reports/network", funder, network=network, format="csv")
    assert report.status_code == 200
    assert {row["member"] for row in csv.DictReader(io.StringIO(report.text))} >= {
        member_c,
        "total",
    }
    bad = await service.get("/v1/indicators", operator, **{"from": "2026-13"})
    assert bad.status_code == 422


async def test_starter_ess_report_shows_entry_exit_and_change(
    service: Service, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    network = f"net_{tag}"
    member_c = f"mbr_{tag}_c"
    await publish(kafka_bootstrap, journeys(tag, network))
    async with service.runtime.db.transaction() as session:
        for moment, score, day in (("entry", 1.5, 3), ("exit", 3.0, 90)):
            session.add(
                Evaluation(
                    id=f"evl_{tag}_{moment}",
                    project_id=f"prj_{tag}_1",
                    member_id=member_c,
                    moment=moment,
                    grid_version="2026.1",
                    filled_by="user:adv",
                    recorded_at=T0 + timedelta(days=day),
                    criterion_scores={},
                    dimension_scores={"ancrage_territorial": score},
                    sdgs=[8],
                )
            )
    admin = service.mint.token(roles=("platform_admin",))

    async def report() -> dict[str, Any] | None:
        found = await service.get(
            "/v1/reports/starter-ess",
            admin,
            member=member_c,
            **{"from": "2026-01", "to": "2026-12"},
        )
        body = found.json()
        done = found.status_code == 200 and [
            a for a in body["accompaniments"] if a["status"] == "completed"
        ]
        return body if done else None

    body = await wait_until(report, what="the Starter ESS report", timeout=30)
    (accompaniment,) = body["accompaniments"]
    assert accompaniment["status"] == "completed" and accompaniment["jobs_created"] == 2
    assert accompaniment["entry"]["dimension_scores"] == {"ancrage_territorial": 1.5}
    assert accompaniment["exit"]["dimension_scores"] == {"ancrage_territorial": 3.0}
    assert accompaniment["change"] == {"ancrage_territorial": 1.5}
    assert body["evaluations"]["average_change"] == {"ancrage_territorial": 1.5}
    lines = list(
        csv.DictReader(
            io.StringIO(
                (
                    await service.get(
                        "/v1/reports/starter-ess", admin, member=member_c, format="csv"
                    )
                ).text
            )
        )
    )
    assert lines[0]["entry.ancrage_territorial"] == "1.5"
    assert lines[0]["exit.ancrage_territorial"] == "3.0"
    assert lines[0]["change.ancrage_territorial"] == "1.5"
