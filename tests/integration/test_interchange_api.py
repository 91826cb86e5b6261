"""Interchange through real HTTP: data·inclusion exports and imports, the CSV import, the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from data_inclusion.schema.v1 import Service, Structure
from sqlmodel import select
from typer.testing import CliRunner

from contracts.events.directory import MemberRegistered, OfferPublished
from services.cli.main import app as cli
from services.directory.main import create_app
from services.directory.settings import DirectorySettings
from services.kit.embedded import free_port
from services.kit.outbox import OutboxRecord
from tests.harness.stack import ADMIN_KEY, RunningService, serve, stop

ADMIN = {"X-Admin-Key": ADMIN_KEY}
STRICT = {"ignore_warnings": False}
HAUTS_DE_FRANCE = ["02", "59", "60", "62", "80"]

CSV_HEADER = (
    "type,nom,siret,commune,courriel,dispositifs,structure,titre,type_offre,stades,themes,"
    "territoires,public,cout\n"
)
CSV_ROWS = [  # lines 2..11: three structures, seven offers; line 9 has an unknown stage
    "structure,Coopérative Picarde,11111111100011,80021,contact@picarde.example,cae,,,,,,,,",
    "structure,Incubateur du Nord,22222222200022,59350,,incubateur,,,,,,,,",
    'structure,Fabrique de l\'Oise,,60057,,"fabrique_initiatives;dla",,,,,,,,',
    "offre,,,,,,11111111100011,Test d'activité en CAE,accompagnement,idee;creation,,"
    "departement:80,individuel,gratuit",
    "offre,,,,,,22222222200022,Incubation ESS,Hébergement / incubation,faisabilite;creation,"
    "numerique,region:32,collectif,payant",
    "offre,,,,,,Incubateur du Nord,Prêt d'honneur,financement,creation,,epci:200093201,,",
    "offre,,,,,,Fabrique de l'Oise,Émergence de projets,accompagnement,idee,ruralite,"
    "departement:60,collectif,",
    "offre,,,,,,Coopérative Picarde,Atelier pitch,formation,lancement,,commune:80021,,",
    "offre,,,,,,Fabrique de l'Oise,Mise en réseau des porteurs,mise_en_reseau,Idée,,"
    "national,,sur conditions",
    "offre,,,,,,11111111100011,Information collective,information,idee,alimentation,"
    "departement:80;departement:2,,gratuit",
]
BAD_LINE = 9


def settings(
    port: int, bootstrap: str, var_dir: Path, group: str, database_url: str | None
) -> DirectorySettings:
    return DirectorySettings(
        port=port,
        admin_key=ADMIN_KEY,
        kafka_bootstrap_servers=bootstrap,
        var_dir=var_dir,
        database_url=database_url,
        consumer_group_prefix=group,
        environment="test",
    )


@asynccontextmanager
async def directory(
    bootstrap: str, var_dir: Path, group: str, database_url: str | None = None
) -> AsyncIterator[RunningService]:
    """The directory app alone: HTTP works while it connects to Kafka."""
    port = free_port()
    app = create_app(settings(port, bootstrap, var_dir, group, database_url))
    service = await serve("directory", app, port)
    try:
        yield service
    finally:
        await stop(service)


@pytest.fixture
async def running(
    kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[..., str], database_url: str
) -> AsyncIterator[tuple[RunningService, httpx.AsyncClient]]:
    """The directory on SQLite, then on PostgreSQL (when a server can be found or started)."""
    async with (
        directory(kafka_bootstrap, tmp_path / "a", unique_name("ix"), database_url) as service,
        httpx.AsyncClient(base_url=service.url, timeout=30) as client,
    ):
        yield service, client


async def network(client: httpx.AsyncClient, network_id: str, region: str = "32") -> None:
    body = {"id": network_id, "name": f"Réseau {network_id}", "region": region}
    response = await client.post("/v1/networks", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def member(client: httpx.AsyncClient, network_id: str, **fields: Any) -> tuple[str, str]:
    body = {"network_ids": [network_id], **fields}
    response = await client.post("/v1/members", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["member"]["id"], response.json()["api_key"]


async def publish(client: httpx.AsyncClient, member_id: str, **fields: Any) -> str:
    body = {"member_id": member_id, "kind": "accompagnement", "stages": ["creation"], **fields}
    response = await client.post("/v1/offers", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def bearer(client: httpx.AsyncClient, **credentials: str) -> dict[str, str]:
    response = await client.post("/v1/token", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def operator(client: httpx.AsyncClient, network_id: str) -> dict[str, str]:
    email = f"operateur@{network_id}.example"
    body = {
        "email": email,
        "name": "Opératrice",
        "network_id": network_id,
        "roles": ["network_operator"],
    }
    invited = await client.post("/v1/users", json=body, headers=ADMIN)
    assert invited.status_code == 201, invited.text
    secret = parse_qs(urlparse(invited.json()["invitation_url"]).query)["jeton"][0]
    password = "un mot de passe 2026"
    chosen = await client.post("/v1/password", json={"token": secret, "password": password})
    assert chosen.status_code == 200, chosen.text
    return await bearer(client, email=email, password=password)


async def seed(client: httpx.AsyncClient) -> dict[str, str]:
    await network(client, "tremplin")
    cae, _ = await member(
        client,
        "tremplin",
        name="CAE Picardie",
        siret="12345678900011",
        commune="80021",
        contact_email="contact@cae.example",
        website="cae.example",
        schemes=["cae", "france_active"],
    )
    dla, _ = await member(client, "tremplin", name="DLA de la Somme", commune="80021")
    return {
        "cae": cae,
        "dla": dla,
        "region": await publish(
            client,
            cae,
            title="Couveuse régionale",
            themes=["alimentation"],
            territories=[{"level": "region", "code": "32"}],
        ),
        "national": await publish(
            client,
            dla,
            title="Diagnostic DLA",
            kind="information",
            stages=["consolidation"],
            cost="sur_conditions",
            territories=[{"level": "national", "code": "FR"}],
        ),
        "commune": await publish(
            client,
            cae,
            title="Prêt solidaire",
            kind="financement",
            project_types=["collective"],
            legal_forms=["scic"],
            territories=[{"level": "commune", "code": "80021"}],
        ),
    }


async def test_exports_validate_with_the_official_package(running) -> None:
    _service, client = running
    ids = await seed(client)
    structures = (await client.get("/v1/exports/data-inclusion/structures")).json()
    services = (await client.get("/v1/exports/data-inclusion/services?network=tremplin")).json()
    assert {s["id"] for s in structures} == {f"relais--{ids['cae']}", f"relais--{ids['dla']}"}
    assert len(services) == 3
    for item in structures:
        Structure.model_validate(item, context=STRICT)
    parsed = {s["id"]: Service.model_validate(s, context=STRICT) for s in services}
    assert parsed[f"relais--{ids['region']}"].zone_eligibilite == HAUTS_DE_FRANCE
    assert parsed[f"relais--{ids['national']}"].zone_eligibilite == ["france"]
    assert parsed[f"relais--{ids['commune']}"].type.value == "aide-financiere"  # type: ignore[union-attr]
    unknown = await client.get("/v1/exports/data-inclusion/services?network=nulle-part")
    assert unknown.status_code == 404

    hsds = (await client.get("/v1/hsds/services?per_page=2")).json()
    assert hsds["total_items"] == 3 and hsds["total_pages"] == 2 and hsds["size"] == 2
    assert hsds["first_page"] and not hsds["last_page"]
    first = hsds["contents"][0]
    assert first["status"] == "active" and first["organization"]["name"]
    assert first["service_areas"] and first["attributes"]


async def test_csv_with_one_bad_row_in_ten_imports_nine(running) -> None:
    service, client = running
    await network(client, "tremplin")
    await network(client, "essor", region="52")
    text = CSV_HEADER + "\n".join(CSV_ROWS) + "\n"

    _member_id, member_key = await member(client, "tremplin", name="Une structure membre")
    as_member = await bearer(client, api_key=member_key)
    refused = await client.post("/v1/imports/csv?network=tremplin", content=text, headers=as_member)
    assert refused.status_code == 403, refused.text
    elsewhere = await client.post(
        "/v1/imports/csv?network=tremplin", content=text, headers=await operator(client, "essor")
    )
    assert elsewhere.status_code == 403

    as_operator = await operator(client, "tremplin")
    response = await client.post(
        "/v1/imports/csv?network=tremplin",
        content=text.encode(),
        headers={**as_operator, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["imported"], report["rejected"], report["existing"]) == (9, 1, 0)
    [bad] = [i for i in report["items"] if i["status"] == "rejected"]
    assert bad["line"] == BAD_LINE and bad["kind"] == "offre"
    assert "lancement" in bad["reason"] and "stades" in bad["reason"]
    assert [i["line"] for i in report["items"]] == list(range(2, 12))

    async with service.runtime.db.session() as session:
        types = (await session.exec(select(OutboxRecord.type))).all()
    assert sum(t == MemberRegistered.type_name for t in types) == 4  # 3 imported + 1 above
    assert sum(t == OfferPublished.type_name for t in types) == 6
    incubation = next(i for i in report["items"] if i["ref"] == "Incubation ESS")
    offer = (await client.get(f"/v1/offers/{incubation['id']}")).json()
    assert offer["kind"] == "hebergement_incubation" and offer["cost"] == "payant"
    assert offer["territories"] == [{"level": "region", "code": "32"}]

    again = await client.post("/v1/imports/csv?network=tremplin", content=text, headers=ADMIN)
    assert again.status_code == 200, again.text  # nothing new, nothing written twice
    assert (again.json()["existing"], again.json()["rejected"]) == (9, 1)
    ids = {i["kind"]: i["id"] for i in again.json()["items"] if i["status"] == "existing"}
    assert ids["structure"].startswith("mbr_") and ids["offre"].startswith("off_")

    fixed = CSV_HEADER + CSV_ROWS[BAD_LINE - 2].replace("lancement", "creation") + "\n"
    upload = await client.post(
        "/v1/imports/csv?network=tremplin",
        files={"file": ("offres.csv", fixed.encode("cp1252"), "text/csv")},
        headers={**ADMIN, "Accept": "application/x-ndjson"},
    )
    lines = [json.loads(line) for line in upload.text.splitlines()]
    assert [m["event"] for m in lines] == ["progress", "progress", "report"]
    assert lines[-1]["status"] == 201 and lines[-1]["report"]["imported"] == 1


async def test_csv_file_errors_are_clear(running) -> None:
    _service, client = running
    await network(client, "tremplin")
    url = "/v1/imports/csv?network=tremplin"
    no_type = await client.post(url, content="nom,siret\nA,1\n", headers=ADMIN)
    assert no_type.status_code == 422
    assert "colonne « type »" in no_type.json()["error"]["message"]
    bad = (
        "type;nom;commune;structure;titre;type_offre;stades;territoires\n"
        "structure;Sans commune;99999;;;;;\n"
        "offre;;;Sans commune;Un titre;accompagnement;idee;departement:80\n"
        "offre;;;Inconnue;Autre titre;accompagnement;idee;80\n"
    )
    report = await client.post(url, content=bad, headers=ADMIN)
    assert report.status_code == 422
    reasons = {i["line"]: i["reason"] for i in report.json()["items"]}
    assert "commune « 99999 » inconnue" in reasons[2]
    assert "ligne 2" in reasons[3]
    assert "introuvable" in reasons[4] and "niveau:code" in reasons[4]


async def test_data_inclusion_round_trip(
    running, kafka_bootstrap: str, tmp_path: Path, unique_name: Callable[..., str]
) -> None:
    _service, client = running
    await seed(client)
    structures = (await client.get("/v1/exports/data-inclusion/structures")).json()
    services = (await client.get("/v1/exports/data-inclusion/services")).json()
    odd = {**services[0], "id": "autre--1", "structure_id": "autre--inconnue"}
    foreign = {
        **services[0],
        "id": "autre--2",
        "thematiques": [*services[0]["thematiques"], "famille--garde-denfants", "inconnue--x"],
    }
    payload = {
        "network_id": "essor",
        "structures": structures,
        "services": [*services, odd, foreign],
    }

    async with (
        directory(kafka_bootstrap, tmp_path / "b", unique_name("ix2")) as other,
        httpx.AsyncClient(base_url=other.url, timeout=30) as client2,
    ):
        await network(client2, "essor", region="52")
        response = await client2.post("/v1/imports/data-inclusion", json=payload, headers=ADMIN)
        assert response.status_code == 201, response.text
        report = response.json()
        assert (report["imported"], report["rejected"]) == (2 + 4, 1)
        [rejected] = [i for i in report["items"] if i["status"] == "rejected"]
        assert rejected["index"] == 3 and "autre--inconnue" in rejected["reason"]
        noted = next(i for i in report["items"] if i["ref"] == "autre--2")
        assert noted["status"] == "imported"
        assert any("famille--garde-denfants" in n for n in noted["notes"])
        assert any("inconnue--x" in n for n in noted["notes"])

        again = await client2.post("/v1/imports/data-inclusion", json=payload, headers=ADMIN)
        assert again.status_code == 200 and again.json()["imported"] == 0

        back = (await client2.get("/v1/exports/data-inclusion/services")).json()
        back_structures = (await client2.get("/v1/exports/data-inclusion/structures")).json()
    for item in back_structures:
        Structure.model_validate(item, context=STRICT)
    assert sorted((s["nom"], s.get("siret")) for s in back_structures) == sorted(
        (s["nom"], s.get("siret")) for s in structures
    )
    before = {s["nom"]: s for s in services}
    assert len(back) == 4
    for item in back:
        Service.model_validate(item, context=STRICT)
        source = before[item["nom"]]
        for key in ("type", "zone_eligibilite", "modes_accueil", "courriel"):
            assert item.get(key) == source.get(key), (item["nom"], key)
        assert item.get("frais") == source.get("frais")
        assert set(source["thematiques"]) <= set(item["thematiques"])


async def test_cli_imports_with_a_progress_bar(running, tmp_path: Path) -> None:
    service, client = running
    await network(client, "tremplin")
    path = tmp_path / "import.csv"
    path.write_text(CSV_HEADER + "\n".join(CSV_ROWS) + "\n", encoding="utf-8")
    args = ["directory", "import-csv", str(path), "--network", "tremplin", "--url", service.url]
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, args, env={"DIRECTORY_ADMIN_KEY": ADMIN_KEY}
    )
    assert result.exit_code == 1, result.output  # one row rejected
    assert "9 importée(s)" in result.output and "1 rejetée(s)" in result.output
    assert "Lignes rejetées" in result.output and "lancement" in result.output
    async with service.runtime.db.session() as session:
        count = len(
            (
                await session.exec(
                    select(OutboxRecord).where(OutboxRecord.type == OfferPublished.type_name)
                )
            ).all()
        )
    assert count == 6
