"""Figures people read, derived from summed rollup counters (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.evaluation.projections.rollups import (
    BUCKET_HOURS,
    DECLINE_REASONS,
    INDEX,
    OUTCOMES,
    WIDTH,
)

Sums = Sequence[int]


def zero() -> list[int]:
    return [0] * WIDTH


def add(into: list[int], other: Sums) -> None:
    for i, x in enumerate(other):
        into[i] += int(x or 0)


def percentile_hours(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile of a bucketed duration, linear inside its bucket (None when empty)."""
    total = sum(histogram)
    if total == 0:
        return None
    target = q * total
    seen = 0
    for i, count in enumerate(histogram):
        if count and seen + count >= target:
            low = BUCKET_HOURS[i]
            if i + 1 == len(BUCKET_HOURS):
                return float(low)  # open-ended last bucket: its lower bound
            high = BUCKET_HOURS[i + 1]
            return round(low + (high - low) * (target - seen) / count, 1)
        seen += count
    return float(BUCKET_HOURS[-1])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(received: Sums, sent: int | None = None, *, stuck: int | None = None) -> dict[str, Any]:
    """The indicators of a set of referrals (`received`: the receiver-side counters)."""
    s = received

    def c(name: str) -> int:
        return int(s[INDEX[name]])

    answers = [c(f"ans_{i:02d}") for i in range(len(BUCKET_HOURS))]
    starts = [c(f"sta_{i:02d}") for i in range(len(BUCKET_HOURS))]
    decided = c("accepted") + c("declined") + c("expired")
    declines = {code: c(f"decl_{code}") for code in DECLINE_REASONS}
    return {
        "referrals_sent": c("referrals") if sent is None else sent,
        "referrals_received": c("referrals"),
        "accepted": c("accepted"),
        "declined": c("declined"),
        "acceptance_rate": _rate(c("accepted"), decided),
        "info_requested": c("info_requested"),
        "time_to_first_answer_hours": {
            "answered": c("answered"),
            "median": percentile_hours(answers, 0.5),
            "p90": percentile_hours(answers, 0.9),
        },
        "started": c("started"),
        "time_to_start_hours": {
            "median": percentile_hours(starts, 0.5),
            "p90": percentile_hours(starts, 0.9),
        },
        "completed": c("completed"),
        "completion_rate": _rate(c("completed"), c("accepted")),
        "failed": c("failed"),
        "cancelled": c("cancelled"),
        "expired": c("expired"),
        "stuck": stuck,
        "open": c("open"),
        "outcomes": {code: c(f"out_{code}") for code in OUTCOMES},
        "jobs_created": c("jobs"),
        "decline_reasons": declines,
        "chains": {
            "chains": c("chains"),
            "redirected": c("redirected"),
            "average_length": round(c("referrals") / c("chains"), 3) if c("chains") else None,
        },
        "journeys_stopped": c("stops"),
        "unmet_demand": {
            "declined_capacity": declines["capacite_atteinte"],
            "declined_territory": declines["hors_territoire"],
            "searches": None,
            "searches_without_result": None,
        },
    }


def flatten(figures_: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """One flat mapping (`a.b` names) for a CSV line."""
    flat: dict[str, Any] = {}
    for key, value in figures_.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat
