"""Send-time policies that need no database: a structure's age and an offer's territory."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.referral.policies import DEFAULT, age_in_months, covers

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created_on", "months"),
    [
        (date(2025, 1, 15), 12),
        (date(2025, 1, 16), 11),  # a month counts once its day is reached
        (date(2023, 1, 15), 36),
        (date(2023, 1, 31), 35),  # still younger than 3 years
        (date(2026, 1, 15), 0),
    ],
)
def test_age_in_whole_months(created_on: date, months: int) -> None:
    assert age_in_months(created_on, NOW) == months


def test_no_structure_no_age_and_the_paris_day_counts() -> None:
    assert age_in_months(None, NOW) is None
    # 23:30 UTC on the 14th is already the 15th in Paris
    late = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    assert age_in_months(date(2025, 1, 15), late) == 12


def test_three_years_is_the_threshold() -> None:
    assert DEFAULT.young_structure_months == 36


@pytest.mark.parametrize(
    ("territories", "expected"),
    [
        ([{"level": "commune", "code": "80021"}], True),
        ([{"level": "departement", "code": "80"}], True),
        ([{"level": "region", "code": "32"}], True),
        ([{"level": "national", "code": "FR"}], True),
        ([{"level": "departement", "code": "59"}], False),
        ([{"level": "departement", "code": "32"}], False),  # the Gers, not Hauts-de-France
        ([{"level": "region", "code": "52"}, {"level": "departement", "code": "80"}], True),
        ([], False),
    ],
)
def test_an_offer_covers_the_commune_at_any_level(
    territories: list[dict[str, str]], expected: bool
) -> None:
    assert covers(territories, "80021") is expected  # Amiens


def test_an_unknown_commune_is_covered_by_nothing() -> None:
    assert covers([{"level": "national", "code": "FR"}], "99999") is False
