"""Directory: identity (API keys, passwords, invitations, resets, key rotation) and who may
edit what, through the real HTTP API on a real database and broker."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import jwt

from tests.harness.directory import ADMIN, OFFER, PASSWORD, _bearer, _member, _network


async def test_a_member_cannot_edit_another_members_offers(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    amiens, amiens_key = await _member(client, "Coopérative d'Amiens", "tremplin")
    lille, lille_key = await _member(client, "Incubateur de Lille", "tremplin", "59350")
    amiens_auth = await _bearer(client, api_key=amiens_key)
    lille_auth = await _bearer(client, api_key=lille_key)

    mine = await client.post("/v1/offers", json={**OFFER, "member_id": amiens}, headers=amiens_auth)
    assert mine.status_code == 201, mine.text
    offer_id = mine.json()["id"]

    theirs = await client.post(
        "/v1/offers", json={**OFFER, "member_id": amiens}, headers=lille_auth
    )
    assert theirs.status_code == 403
    assert "autre structure" in theirs.json()["error"]["message"]
    patch = await client.patch(
        f"/v1/offers/{offer_id}", json={"capacity": "full"}, headers=lille_auth
    )
    assert patch.status_code == 403
    withdraw = await client.delete(f"/v1/offers/{offer_id}", headers=lille_auth)
    assert withdraw.status_code == 403
    edit_member = await client.patch(
        f"/v1/members/{amiens}", json={"name": "Piraté"}, headers=lille_auth
    )
    assert edit_member.status_code == 403
    assert (await client.get(f"/v1/offers/{offer_id}")).json()["capacity"] == "open"

    own = await client.patch(
        f"/v1/offers/{offer_id}", json={"capacity": "waitlist"}, headers=amiens_auth
    )
    assert own.status_code == 200 and own.json()["capacity"] == "waitlist"
    assert lille  # the other member exists and is active


async def test_writes_need_a_token_and_refuse_bad_input_in_french(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "Fabrique", "tremplin")
    assert (await client.post("/v1/offers", json={**OFFER, "member_id": member})).status_code == 401
    auth = await _bearer(client, api_key=key)
    bad_stage = await client.post(
        "/v1/offers", json={**OFFER, "member_id": member, "stages": ["lancement"]}, headers=auth
    )
    assert bad_stage.status_code == 422
    assert "valeurs possibles" in bad_stage.text and "idee" in bad_stage.text
    bad_place = await client.post(
        "/v1/offers",
        json={**OFFER, "member_id": member, "territories": [{"level": "commune", "code": "80999"}]},
        headers=auth,
    )
    assert bad_place.status_code == 422
    assert bad_place.json()["error"]["code"] == "geo.unknown_territory"
    bad_commune = await client.post(
        "/v1/members",
        json={"name": "X", "network_ids": ["tremplin"], "commune": "80999"},
        headers=ADMIN,
    )
    assert bad_commune.status_code == 422
    assert bad_commune.json()["error"]["details"], "suggestions expected"


async def test_an_operator_edits_only_its_networks_members(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    await _network(client, "essor", "52")
    in_mine, _ = await _member(client, "Structure HdF", "tremplin")
    elsewhere, _ = await _member(client, "Structure PdL", "essor", "44109")
    invited = await client.post(
        "/v1/users",
        json={
            "email": "operatrice@demo.relais.test",
            "name": "Opératrice",
            "network_id": "tremplin",
            "roles": ["network_operator"],
        },
        headers=ADMIN,
    )
    assert invited.status_code == 201, invited.text
    token = parse_qs(urlparse(invited.json()["invitation_url"]).query)["jeton"][0]
    assert (
        await client.post("/v1/password", json={"token": token, "password": PASSWORD})
    ).status_code == 200
    operator = await _bearer(client, email="operatrice@demo.relais.test", password=PASSWORD)

    assert (
        await client.post(
            f"/v1/members/{in_mine}/suspend", json={"reason": "test"}, headers=operator
        )
    ).status_code == 200
    assert (
        await client.post(f"/v1/members/{elsewhere}/suspend", json={}, headers=operator)
    ).status_code == 403
    assert (
        await client.post(
            "/v1/networks", json={"name": "Nouveau", "region": "11"}, headers=operator
        )
    ).status_code == 403


async def test_invitation_password_login_reset_and_deactivation(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "CAE du Nord", "tremplin", "59350")
    invited = await client.post(
        "/v1/users",
        json={
            "email": "Conseil@Demo.Relais.test",
            "name": "Conseillère",
            "member_id": member,
            "roles": ["adviser"],
        },
        headers=ADMIN,
    )
    assert invited.status_code == 201, invited.text
    user = invited.json()["user"]
    assert user["status"] == "invited" and user["email"] == "conseil@demo.relais.test"
    link = parse_qs(urlparse(invited.json()["invitation_url"]).query)["jeton"][0]

    weak = await client.post("/v1/password", json={"token": link, "password": "court"})
    assert weak.status_code == 422
    assert (
        await client.post("/v1/password", json={"token": link, "password": PASSWORD})
    ).status_code == 200
    again = await client.post("/v1/password", json={"token": link, "password": PASSWORD})
    assert again.status_code == 400, "a one-time link works once"

    wrong = await client.post(
        "/v1/token", json={"email": "conseil@demo.relais.test", "password": "Mauvais-mdp-2026"}
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.json()["error"]["message"]
    auth = await _bearer(client, email="conseil@demo.relais.test", password=PASSWORD)
    claims = jwt.decode(auth["Authorization"].split()[1], options={"verify_signature": False})
    assert (
        claims["member"] == member
        and claims["roles"] == ["adviser"]
        and claims["networks"] == ["tremplin"]
    )

    unknown = await client.post("/v1/password-resets", json={"email": "personne@demo.relais.test"})
    known = await client.post("/v1/password-resets", json={"email": "conseil@demo.relais.test"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json()["status"] == known.json()["status"]

    # A member admin (through its member's operator... here the platform) deactivates the account.
    done = await client.post(f"/v1/users/{user['id']}/deactivate", headers=ADMIN)
    assert done.status_code == 200 and done.json()["status"] == "deactivated"
    gone = await client.post(
        "/v1/token", json={"email": "conseil@demo.relais.test", "password": PASSWORD}
    )
    assert gone.status_code == 401
    assert key


async def test_key_rotation_keeps_old_tokens_valid_until_they_expire(directory) -> None:  # type: ignore[no-untyped-def]
    client, clock, _ = directory
    await _network(client, "tremplin")
    _, key = await _member(client, "Incubateur", "tremplin")
    old = (await _bearer(client, api_key=key))["Authorization"].split()[1]
    old_kid = jwt.get_unverified_header(old)["kid"]

    rotated = await client.post("/v1/signing-keys/rotate", headers=ADMIN)
    assert rotated.status_code == 200
    new = (await _bearer(client, api_key=key))["Authorization"].split()[1]
    assert jwt.get_unverified_header(new)["kid"] == rotated.json()["kid"] != old_kid
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, rotated.json()["kid"]} <= kids, "both keys published during the overlap"

    clock.advance(timedelta(hours=1))  # every token of the old key has expired (15 min)
    await client.post("/v1/signing-keys/rotate", headers=ADMIN)
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid not in kids


async def test_revoked_api_key_no_longer_gives_tokens(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "DLA de la Somme", "tremplin")
    created = await client.post(
        "/v1/api-keys", json={"member_id": member, "label": "CRM"}, headers=ADMIN
    )
    assert created.status_code == 201
    second = created.json()["api_key"]
    listed = (await client.get(f"/v1/api-keys?member_id={member}", headers=ADMIN)).json()
    assert {k["label"] for k in listed} == {"default", "CRM"} and all(
        "api_key" not in k for k in listed
    )
    assert (
        await client.delete(f"/v1/api-keys/{created.json()['id']}", headers=ADMIN)
    ).status_code == 200
    assert (await client.post("/v1/token", json={"api_key": second})).status_code == 401
    assert (await client.post("/v1/token", json={"api_key": key})).status_code == 200
