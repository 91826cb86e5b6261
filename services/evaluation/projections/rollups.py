"""Pre-aggregated figures (rollups): what each referral fact adds to each level (no I/O).

A fact contributes one vector of counters (METRICS) to one row of each level; a rollup row is
the sum of its facts' vectors. Live, a changed fact moves its rows by `after - before`; a
rebuild sums every fact in memory. Durations are kept as fixed histogram buckets, so medians
and p90s are read from summed rows (interpolated inside a bucket).

Levels, coarsest first; a query reads the coarsest level that has every dimension it filters
or groups by, so a network-wide question scans a few hundred rows, not every referral:

* `all`       — month × stage (platform-wide)
* `network`   — network × month × stage
* `territory` — network × month × stage × département
* `epci`      — network × month × département × EPCI
* `member`    — member × role (sender/receiver) × network × month

A question no level answers (a member's figures for one stage or territory, say) is summed
from the facts themselves, which are few once filtered by member.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from services.evaluation.projections.facts import UNMET_REASONS, ReferralFact

DECLINE_REASONS = (
    "hors_territoire",
    "hors_stade",
    "capacite_atteinte",
    "dossier_incomplet",
    "hors_champ_ess",
    "reoriente_ailleurs",
    "autre",
)
OUTCOMES = (
    "structure_creee",
    "activite_lancee",
    "financement_obtenu",
    "projet_abandonne",
    "reoriente",
    "autre",
)
# bucket lower bounds, in hours: [0, 4h), [4h, 8h), ... [30 days, ∞)
BUCKET_HOURS = (0, 4, 8, 24, 48, 72, 120, 168, 240, 336, 504, 720)
COUNTS = (
    "referrals",
    "accepted",
    "declined",
    "info_requested",
    "answered",
    "cancelled",
    "expired",
    "started",
    "completed",
    "failed",
    "open",
    "waiting",
    "jobs",
    "redirected",
    "chains",
    "stops",
    "unmet",
)
METRICS: tuple[str, ...] = (
    *COUNTS,
    *(f"decl_{code}" for code in DECLINE_REASONS),
    *(f"out_{code}" for code in OUTCOMES),
    *(f"ans_{i:02d}" for i in range(len(BUCKET_HOURS))),
    *(f"sta_{i:02d}" for i in range(len(BUCKET_HOURS))),
)
INDEX = {name: i for i, name in enumerate(METRICS)}
WIDTH = len(METRICS)

LEVEL_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "all": ("month", "stage"),
    "network": ("network_id", "month", "stage"),
    "territory": ("network_id", "month", "stage", "departement"),
    "epci": ("network_id", "month", "departement", "epci"),
    "member": ("member_id", "role", "network_id", "month"),
}
LEVELS = tuple(LEVEL_DIMENSIONS)

Vector = list[int]
Key = tuple[str, ...]


def bucket_of(hours: float) -> int:
    index = 0
    for i, bound in enumerate(BUCKET_HOURS):
        if hours >= bound:
            index = i
    return index


def vector(fact: ReferralFact) -> Vector | None:
    """What one referral adds to its rows; None until its `sent` event is known."""
    if fact.sent_at is None:
        return None
    v = [0] * WIDTH
    end = fact.terminal
    status = end or fact.status
    v[INDEX["referrals"]] = 1
    v[INDEX["accepted"]] = int(fact.accepted_at is not None)
    v[INDEX["info_requested"]] = int(fact.info_requested_at is not None)
    v[INDEX["started"]] = int(fact.started_at is not None)
    if end is not None:
        v[INDEX[end]] = 1  # declined, cancelled, expired, completed or failed
        v[INDEX["stops"]] = int(fact.stops)
    else:
        v[INDEX["open"]] = 1
        v[INDEX["waiting"]] = int(status == "accepted")  # accepted, not started nor ended
    if fact.redirected_from:
        v[INDEX["redirected"]] = 1
    else:
        v[INDEX["chains"]] = 1
    if status == "declined":
        reason = fact.decline_reason if fact.decline_reason in DECLINE_REASONS else "autre"
        v[INDEX[f"decl_{reason}"]] = 1
        v[INDEX["unmet"]] = int(fact.decline_reason in UNMET_REASONS)
    if status == "completed":
        outcome = fact.outcome if fact.outcome in OUTCOMES else "autre"
        v[INDEX[f"out_{outcome}"]] = 1
        v[INDEX["jobs"]] = fact.jobs_created
    answered = fact.first_answer_at
    if answered is not None:
        v[INDEX["answered"]] = 1
        hours = max(0.0, (answered - fact.sent_at).total_seconds() / 3600)
        v[INDEX[f"ans_{bucket_of(hours):02d}"]] = 1
    if fact.started_at is not None:
        hours = max(0.0, (fact.started_at - fact.sent_at).total_seconds() / 3600)
        v[INDEX[f"sta_{bucket_of(hours):02d}"]] = 1
    return v


def keys(fact: ReferralFact) -> Iterator[tuple[str, Key]]:
    """The rollup rows a fact belongs to: (level, key in LEVEL_DIMENSIONS order)."""
    net, month, stage, dep = fact.network_id, fact.month, fact.stage, fact.departement
    yield "all", (month, stage)
    yield "network", (net, month, stage)
    yield "territory", (net, month, stage, dep)
    yield "epci", (net, month, dep, fact.epci)
    for member, role in ((fact.sender_member_id, "sender"), (fact.receiver_member_id, "receiver")):
        yield "member", (member, role, net, month)


def contributions(fact: ReferralFact | None) -> dict[tuple[str, Key], Vector]:
    v = vector(fact) if fact is not None else None
    if fact is None or v is None:
        return {}
    return {row: v for row in keys(fact)}


def deltas(before: ReferralFact | None, after: ReferralFact) -> dict[tuple[str, Key], Vector]:
    """How the rollup rows move when a fact changes from `before` to `after`."""
    out: dict[tuple[str, Key], Vector] = {}
    for row, v in contributions(after).items():
        out[row] = list(v)
    for row, v in contributions(before).items():
        current = out.setdefault(row, [0] * WIDTH)
        for i, x in enumerate(v):
            current[i] -= x
    return {row: v for row, v in out.items() if any(v)}


@dataclass
class RollupTotals:
    """Every level's rows summed in memory (the rebuild)."""

    rows: dict[str, dict[Key, Vector]]

    @classmethod
    def of(cls, facts: dict[str, ReferralFact] | list[ReferralFact]) -> RollupTotals:
        rows: dict[str, dict[Key, Vector]] = {level: {} for level in LEVELS}
        values = facts.values() if isinstance(facts, dict) else facts
        for fact in values:
            v = vector(fact)
            if v is None:
                continue
            nonzero = [(i, x) for i, x in enumerate(v) if x]
            for level, key in keys(fact):
                level_rows = rows[level]
                current = level_rows.get(key)
                if current is None:
                    level_rows[key] = list(v)
                else:
                    for i, x in nonzero:
                        current[i] += x
        return cls(rows)
