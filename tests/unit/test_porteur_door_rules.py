"""The porteur's door, its pure rules: abuse checks, rate-limit answers, masked links, 'daily'."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.kit.clock import PARIS
from services.kit.errors import ApiError
from services.referral.api.public import MaskPorteurLinks
from services.referral.handlers.porteur import LIMITS, RateLimited, hash_secret
from services.referral.handlers.porteur.form import _check_abuse
from services.referral.handlers.porteur.link import new_secret
from services.referral.handlers.retention import next_daily_run
from services.referral.models import SelfReferralForm

pytestmark = pytest.mark.unit


def _form(**changes: Any) -> SelfReferralForm:
    body: dict[str, Any] = {
        "member_id": "mbr_x",
        "stage": "idee",
        "commune": "80021",
        "porteur": {"name": "Camille", "email": "camille@exemple.fr"},
        "consent": True,
    }
    return SelfReferralForm.model_validate({**body, **changes})


def check(form: SelfReferralForm) -> str | None:
    try:
        _check_abuse(form, LIMITS)
    except ApiError as exc:
        return exc.code
    return None


def test_a_plain_request_passes() -> None:
    assert check(_form(description="Voir https://exemple.fr/projet")) is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"website": "http://robot"}, "public.rejected"),
        ({"consent": False}, "public.consent_required"),
        ({"porteur": {"name": "Camille"}}, "public.contact_required"),
        ({"description": "http://a.x http://b.x www.c.x"}, "public.spam"),
        ({"porteur": {"name": "www.promo.x", "phone": "0600000000"}}, "public.spam"),
        ({"stage": "lune"}, "validation"),
        ({"commune": "99999"}, "validation"),
    ],
)
def test_abuse_is_refused(changes: dict[str, Any], code: str) -> None:
    assert check(_form(**changes)) == code


def test_rate_limited_tells_when_to_retry() -> None:
    limited = RateLimited(timedelta(minutes=59, seconds=1))
    assert limited.status == 429 and limited.retry_after_seconds == 3541
    assert limited.params == {"minutes": 60}


def test_the_secret_is_256_bits_and_stored_hashed() -> None:
    secret, stored = new_secret()
    assert len(secret) == 43 and stored == hash_secret(secret) and secret not in stored


def test_access_logs_never_show_a_porteurs_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "GET", "/v1/public/requests/s3cr3t-Value_x/data", "1.1", 200),
        None,
    )
    assert MaskPorteurLinks().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "/v1/public/requests/***/data" in record.getMessage()


def test_daily_is_a_paris_calendar_day() -> None:
    before = datetime(2026, 3, 28, 1, 0, tzinfo=UTC)  # 02:00 in Paris
    assert next_daily_run(before).astimezone(PARIS).strftime("%d %H:%M") == "28 03:30"
    after = datetime(2026, 3, 28, 3, 0, tzinfo=UTC)  # the next run falls on the DST night
    nxt = next_daily_run(after)
    assert nxt.astimezone(PARIS).strftime("%d %H:%M") == "29 03:30"
    assert nxt.astimezone(UTC).strftime("%H:%M") == "01:30"
