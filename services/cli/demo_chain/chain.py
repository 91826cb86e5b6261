"""The chain itself: the porteur's project, and the story played through the APIs."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.cli.demo_chain.api import _Api, find_starter_offer
from services.cli.demo_chain.cast import Cast, Structure

DEFAULT_COMMUNE = "80561"  # Montdidier (Somme), where the Santerre PIVA+ point is
TITLE = "Conserverie solidaire du Santerre"


def project_body(commune: str, collected_by: str) -> dict[str, Any]:
    """The porteur's project (fictional; the e-mail domain is reserved, RFC 2606)."""
    return {
        "title": TITLE,
        "description": (
            "Transformer les invendus des maraîchers du Santerre en conserves, avec des "
            "personnes éloignées de l'emploi ; un collectif de cinq habitants."
        ),
        "stage": "idee",
        "commune": commune,
        "themes": ["alimentation", "economie_circulaire", "ruralite"],
        "collective": True,
        "legal_form": "pas_encore_constituee",
        "needs": "Structurer le collectif, tester le modèle économique, trouver un local.",
        "budget_eur": 60000,
        "external_ref": f"DEMO-SANTERRE-{uuid.uuid4().hex[:6].upper()}",  # one per run
        "porteur": {
            "name": "Camille Démo",
            "email": "camille.demo@example.org",
            "phone": "01 99 00 42 42",
        },
        "consent": {
            "text_version": "2026-01",
            "scopes": [
                "partage_structure_destinataire",
                "contact_par_structure",
                "suivi_statistique",
            ],
            "collected_by": collected_by,
        },
    }


@dataclass
class ChainResult:
    project_id: str
    cast: Cast
    referrals: dict[str, str]  # step name -> referral id
    timeline: dict[str, Any]
    starter_offer: dict[str, Any] | None = None  # the offer found with /v1/match, if any
    member_names: dict[str, str] = field(default_factory=dict)


Say = Callable[[str], None]


def _quiet(_text: str) -> None:
    return None


async def play_chain(
    directory_url: str,
    referral_url: str,
    members: Sequence[Mapping[str, Any]],
    *,
    say: Say = _quiet,
    wait_seconds: float = 60.0,
    client: httpx.AsyncClient | None = None,
) -> ChainResult:
    """Play the story above through the APIs; return the project and its timeline."""
    structures = [Structure.from_document(m) for m in members if m.get("api_key")]
    cast = Cast.choose(structures)
    owned = client is None
    http = client or httpx.AsyncClient(timeout=30)
    try:
        return await _play(http, directory_url, referral_url, structures, cast, say, wait_seconds)
    finally:
        if owned:
            await http.aclose()


async def _play(
    client: httpx.AsyncClient,
    directory: str,
    referral: str,
    structures: Sequence[Structure],
    cast: Cast,
    say: Say,
    wait_seconds: float,
) -> ChainResult:
    api = _Api(client, directory, referral, wait_seconds)
    body = project_body(cast.accueil.commune or DEFAULT_COMMUNE, f"Accueil de {cast.accueil.name}")
    # The Starter ESS operator covering the commune, as an adviser would find it.
    starters = {s.id: s for s in structures if "starter_ess" in s.schemes}
    found = await find_starter_offer(client, directory, body, starters)
    offer: dict[str, Any] | None = None
    if found is not None:
        starter, offer = found
        others = {s.id for s in cast.all()} - {cast.starter.id}
        if starter.id in others:
            offer = None
        else:
            cast = dataclasses.replace(cast, starter=starter)
    say("jetons des structures")
    for who in cast.all():
        await api.login(who)

    a, dla, st, inc, fund = cast.accueil, cast.declining, cast.starter, cast.incubator, cast.fund
    say(f"{a.name} enregistre le projet (stade idée) avec le consentement du porteur")
    project = await api.post(a, "/v1/projects", body, "enregistrement du projet", expect=201)
    pid = project["id"]
    refs: dict[str, str] = {}

    async def send(sender: Structure, to: Structure, name: str, **extra: Any) -> str:
        answer = await api.post(
            sender,
            "/v1/referrals",
            {"project_id": pid, "receiver_member_id": to.id, **extra},
            f"orientation de {sender.name} vers {to.name}",
            expect=201,
        )
        refs[name] = answer["id"]
        return str(answer["id"])

    async def act(who: Structure, ref: str, action: str, **payload: Any) -> None:
        await api.post(who, f"/v1/referrals/{ref}/{action}", payload, f"{action} par {who.name}")

    say(f"{a.name} oriente vers {dla.name}")
    r1 = await send(
        a, dla, "declined", message="Collectif rencontré en permanence ; cherche un appui."
    )
    say(f"{dla.name} décline : hors stade")
    await act(
        dla,
        r1,
        "decline",
        reason="hors_stade",
        message="Le DLA accompagne des structures employeuses déjà constituées.",
    )
    say(f"{a.name} oriente vers {st.name}")
    extra = {"offer_id": offer["id"]} if offer else {}
    r2 = await send(a, st, "starter", message="Projet à l'idée, collectif motivé.", **extra)
    say(f"{st.name} accepte, accompagne, clôture")
    await act(st, r2, "accept")
    await act(st, r2, "start")
    await act(st, r2, "complete", outcome="activite_lancee")
    say(f"{st.name} oriente vers {inc.name}")
    r3 = await send(st, inc, "incubator", message="Modèle testé : passage en incubation ?")
    say(f"{inc.name} réoriente vers {fund.name}")
    redirected = await api.post(
        inc,
        f"/v1/referrals/{r3}/redirect",
        {"receiver_member_id": fund.id, "message": "Le besoin premier est le financement."},
        f"réorientation par {inc.name}",
        expect=201,
    )
    r4 = refs["fund"] = str(redirected["id"])
    say(f"{fund.name} accepte, accompagne, clôture : financement obtenu")
    await act(fund, r4, "accept")
    await act(fund, r4, "start")
    await act(
        fund, r4, "complete", outcome="financement_obtenu", funding_amount_eur=15000, jobs_created=2
    )
    timeline = await api.get(a, f"/v1/projects/{pid}/timeline", "lecture du parcours")
    return ChainResult(
        project_id=pid,
        cast=cast,
        referrals=refs,
        timeline=timeline,
        starter_offer=offer,
        member_names={s.id: s.name for s in structures},
    )
