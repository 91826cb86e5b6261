"""`relais bench referral`'s own pieces: the tokens it mints pass the service's verifier."""

from __future__ import annotations

import pytest

from services.bench.referral import NETWORK, Sizes, TokenMint
from services.kit.auth import JwtVerifier
from services.kit.errors import ApiError


async def test_minted_tokens_are_accepted_by_a_verifier_holding_the_bench_jwks() -> None:
    mint = TokenMint(issuer="relais-directory", audience="relais")
    verifier = JwtVerifier(issuer="relais-directory", audience="relais", jwks=mint.jwks())
    who = await verifier.verify(mint.token("mbr_bench_s01"))
    assert who.member_id == "mbr_bench_s01"
    assert who.network_ids == (NETWORK,) and who.has_role("member_tool")

    stranger = TokenMint(issuer="relais-directory", audience="relais")
    with pytest.raises(ApiError) as refused:
        await verifier.verify(stranger.token("mbr_bench_s01"))
    assert refused.value.status == 401


def test_quick_is_smaller_than_full() -> None:
    quick, full = Sizes.of(True), Sizes.of(False)
    assert quick.creations < full.creations and quick.paced < full.paced
