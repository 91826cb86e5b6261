"""The verifier remembers checked signatures, never an expiry nor a withdrawn key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.bench.referral.service import TokenMint
from services.kit.auth import JwtVerifier
from services.kit.clock import ManualClock
from services.kit.errors import ApiError


def _verifier(mint: TokenMint, clock: ManualClock) -> JwtVerifier:
    return JwtVerifier(issuer=mint.issuer, audience=mint.audience, jwks=mint.jwks(), clock=clock)


async def test_a_remembered_token_still_expires() -> None:
    mint = TokenMint("https://directory.test", "relais")
    clock = ManualClock(datetime.now(UTC))
    verifier = _verifier(mint, clock)
    token = mint.token("m1", ttl=timedelta(minutes=5))
    assert (await verifier.verify(token)).member_id == "m1"
    assert (await verifier.verify(token)).member_id == "m1"  # from the cache
    clock.advance(timedelta(minutes=10))
    with pytest.raises(ApiError) as refused:
        await verifier.verify(token)
    assert refused.value.status == 401


async def test_a_tampered_token_is_refused_even_after_the_genuine_one_was_seen() -> None:
    mint = TokenMint("https://directory.test", "relais")
    verifier = _verifier(mint, ManualClock(datetime.now(UTC)))
    token = mint.token("m1")
    await verifier.verify(token)
    head, payload, signature = token.split(".")
    forged = ".".join(
        [head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
    )
    with pytest.raises(ApiError) as refused:
        await verifier.verify(forged)
    assert refused.value.status == 401


async def test_reloading_the_key_set_forgets_what_was_verified() -> None:
    old, new = (
        TokenMint("https://directory.test", "relais"),
        TokenMint("https://directory.test", "relais"),
    )
    verifier = _verifier(old, ManualClock(datetime.now(UTC)))
    token = old.token("m1")
    await verifier.verify(token)
    verifier._load(new.jwks())  # the old key was withdrawn from the JWKS
    with pytest.raises(ApiError) as refused:
        await verifier.verify(token)
    assert refused.value.status == 401
