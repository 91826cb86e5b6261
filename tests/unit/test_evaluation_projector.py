"""The pure projector: order independence, duplicates, derived figures."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.events import referral as r
from services.evaluation.projections.facts import Projection
from services.evaluation.projections.figures import figures, percentile_hours
from services.evaluation.projections.rollups import RollupTotals, deltas
from services.evaluation.territory import territory_lookup

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
Ev = tuple[str, str, datetime, dict[str, Any]]


def ev(n: int, model: type[r.ReferralEvent], hours: float, **data: Any) -> Ev:
    return (f"evt_{n}", model.type_name, T0 + timedelta(hours=hours), data)


def journey(tag: str, *, redirect: bool) -> list[Ev]:
    ids = {"project_id": f"prj_{tag}", "sender_member_id": "mbr_a"}
    first = {**ids, "referral_id": f"ref_{tag}1", "receiver_member_id": "mbr_b"}
    second = {**ids, "referral_id": f"ref_{tag}2", "receiver_member_id": "mbr_c"}
    sent = {"network_id": "net_1", "stage": "creation", "commune": "80021"}
    events = [
        ev(1, r.ReferralSent, 0, **first, **sent),
        ev(2, r.ReferralInfoRequested, 5, **first),
    ]
    if redirect:
        events += [
            ev(
                3,
                r.ReferralDeclined,
                30,
                **first,
                reason="reoriente_ailleurs",
                redirected_to=second["referral_id"],
            ),
            ev(4, r.ReferralSent, 30, **second, **sent, redirected_from=first["referral_id"]),
            ev(5, r.ReferralAccepted, 40, **second),
            ev(6, r.ReferralStarted, 100, **second),
            ev(7, r.ReferralCompleted, 900, **second, outcome="structure_creee", jobs_created=3),
        ]
    else:
        events += [ev(3, r.ReferralDeclined, 50, **first, reason="capacite_atteinte")]
    return [(f"{tag}-{e[0]}", *e[1:]) for e in events]


def project(events: list[Ev]) -> Projection:
    projection = Projection()
    projection.fold_all(events, territory_lookup())
    return projection


def totals(projection: Projection) -> dict[tuple[str, tuple[str, ...]], list[int]]:
    rows = RollupTotals.of(projection.referrals).rows
    return {(level, key): v for level, level_rows in rows.items() for key, v in level_rows.items()}


def test_interleaved_shuffled_and_duplicated_journeys_give_the_clean_run_figures() -> None:
    clean = journey("x", redirect=True) + journey("y", redirect=False)
    expected = project(clean)
    for seed in range(20):
        rng = random.Random(seed)
        messy = clean + rng.sample(clean, 4)  # some events delivered twice
        rng.shuffle(messy)
        got = project(messy)
        assert got.referrals == expected.referrals
        assert totals(got) == totals(expected)


def test_a_fact_knows_its_status_durations_chain_and_territory() -> None:
    facts = project(journey("x", redirect=True)).referrals
    first, second = facts["ref_x1"], facts["ref_x2"]
    assert first.status == "declined" and not first.stops  # redirected: the journey goes on
    assert second.status == "completed" and second.jobs_created == 3
    assert second.redirected_from == "ref_x1"
    assert (second.departement, second.epci) == ("80", "248000531")  # Amiens, CA Amiens Métropole
    assert second.month == "2025-03"
    figures_ = figures(
        totals(project(journey("x", redirect=True)))[("network", ("net_1", "2025-03", "creation"))]
    )
    assert figures_["referrals_received"] == 2
    assert figures_["chains"]["average_length"] == 2.0
    assert figures_["jobs_created"] == 3
    assert figures_["outcomes"]["structure_creee"] == 1
    assert figures_["decline_reasons"]["reoriente_ailleurs"] == 1
    assert figures_["acceptance_rate"] == 0.5


def test_capacity_decline_is_unmet_demand_and_a_stop() -> None:
    facts = project(journey("y", redirect=False)).referrals
    assert facts["ref_y1"].stops
    row = totals(project(journey("y", redirect=False)))[
        ("territory", ("net_1", "2025-03", "creation", "80"))
    ]
    assert figures(row)["unmet_demand"]["declined_capacity"] == 1
    assert figures(row)["journeys_stopped"] == 1


def test_live_deltas_add_up_to_the_rebuilt_rollups() -> None:
    events = journey("x", redirect=True) + journey("y", redirect=False)
    rng = random.Random(7)
    rng.shuffle(events)
    running: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    projection = Projection()
    lookup = territory_lookup()
    for event_id, type_name, time, data in events + events[:3]:
        before = projection.referrals.get(data["referral_id"])
        before = None if before is None else dataclasses.replace(before)
        projection.fold(event_id, type_name, time, data, lookup)
        for row, delta in deltas(before, projection.referrals[data["referral_id"]]).items():
            current = running.setdefault(row, [0] * len(delta))
            for i, x in enumerate(delta):
                current[i] += x
    nonzero = {row: v for row, v in running.items() if any(v)}
    assert nonzero == totals(projection)


def test_percentiles_interpolate_inside_buckets() -> None:
    histogram = [0] * 12
    histogram[1] = 10  # ten answers between 4 h and 8 h
    assert percentile_hours(histogram, 0.5) == 6.0
    assert percentile_hours([0] * 12, 0.5) is None
