"""The directory as deployed: offers published over HTTP are found by /v1/match at once."""

from __future__ import annotations

from tests.harness.directory import OFFER, _bearer, _member, _network


async def test_match_for_amiens_finds_offers_covering_it_with_reasons(directory) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = directory
    await _network(client, "tremplin")
    member, key = await _member(client, "Coopérative d'Amiens", "tremplin")
    auth = await _bearer(client, api_key=key)
    somme = {
        **OFFER,
        "member_id": member,
        "title": "Création dans la Somme",
        "project_types": ["collective"],
    }
    oise = {
        **OFFER,
        "member_id": member,
        "title": "Création dans l'Oise",
        "territories": [{"level": "departement", "code": "60"}],
    }
    for offer in (somme, oise):
        assert (await client.post("/v1/offers", json=offer, headers=auth)).status_code == 201

    found = await client.get(
        "/v1/match", params={"commune": "80021", "stage": "creation", "project": "collective"}
    )
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert [r["offer"]["title"] for r in results] == ["Création dans la Somme"]
    assert results[0]["reasons"]["territory"]["level"] == "departement"

    unknown = await client.get("/v1/match", params={"commune": "80999"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"], "suggestions expected"

    # Withdrawing the offer takes it out of the results straight away.
    offer_id = results[0]["offer"]["id"]
    assert (await client.delete(f"/v1/offers/{offer_id}", headers=auth)).status_code == 200
    again = await client.get("/v1/match", params={"commune": "80021", "stage": "creation"})
    assert again.json()["results"] == []
