"""`relais demo`: play a whole accompaniment chain against the running stack, as its members.

The story (issue 4, "Must hold"): a porteur's collective project at the idea stage, in the
Santerre (Somme), met at a Point PIVA+ which records it with the porteur's consent and
orients it to the DLA — which declines (hors stade: the DLA supports established employers).
The PIVA+ point then orients it to the Starter ESS operator whose offer covers the commune
(found with the directory's `GET /v1/match`), which accepts, accompanies, closes
(activité lancée) and orients onward to an incubator; the incubator redirects it (réorienté
ailleurs) to the France Active fund, which accepts, accompanies and closes: funding obtained,
15 000 €, 2 jobs. Then the journey's timeline is read back.

Every call is an ordinary API call with a token from the member's own API key (the demo
credentials file has them). The referral service learns members and offers from
`directory.events`: right after `relais dev` has loaded the demo its copy may lag, so a
send refused with `member.unknown` (or an offer it does not know yet) is retried for a while.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from services.referral.handlers.projects import present_information
from services.referral.models import ProjectCreate


class DemoChainError(RuntimeError):
    """The chain could not be played (the message says which call failed and why)."""


@dataclass(frozen=True)
class Structure:
    id: str
    name: str
    slug: str
    api_key: str
    schemes: tuple[str, ...] = ()
    commune: str | None = None

    @classmethod
    def from_document(cls, member: Mapping[str, Any]) -> Structure:
        """A member as `var/demo-credentials.json` lists it."""
        return cls(
            id=str(member["id"]),
            name=str(member["name"]),
            slug=str(member.get("slug") or member["id"]),
            api_key=str(member["api_key"]),
            schemes=tuple(member.get("schemes") or ()),
            commune=member.get("commune"),
        )


# role -> (preferred demo slugs, schemes that fit when those are missing)
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accueil": (("piva-montdidier", "cress-hdf"), ("piva_plus", "cress")),
    "declining": (("dla-somme",), ("dla",)),
    "starter": (("starter-somme",), ("starter_ess",)),
    "incubator": (("incubateur-amiens",), ("incubateur",)),
    "fund": (("fonds-picardie",), ("france_active",)),
}


@dataclass(frozen=True)
class Cast:
    accueil: Structure  # registers the project, orients it first
    declining: Structure  # declines: hors stade
    starter: Structure  # Starter ESS operator: accepts, completes, orients onward
    incubator: Structure  # redirects: réorienté ailleurs
    fund: Structure  # France Active-like fund: financement obtenu

    @classmethod
    def choose(cls, structures: Sequence[Structure]) -> Cast:
        by_slug = {s.slug: s for s in structures}
        chosen: dict[str, Structure] = {}
        for role, (slugs, schemes) in ROLES.items():
            taken = {s.id for s in chosen.values()}
            found = next((by_slug[s] for s in slugs if s in by_slug), None)
            if found is None or found.id in taken:
                found = next(
                    (
                        s
                        for s in structures
                        if s.id not in taken and any(x in s.schemes for x in schemes)
                    ),
                    None,
                )
            if found is None:
                raise DemoChainError(
                    f"aucune structure pour le rôle « {role} » (dispositif {' ou '.join(schemes)})"
                    " dans le fichier d'identifiants : la démo est-elle chargée ?"
                )
            chosen[role] = found
        return cls(**chosen)

    def all(self) -> list[Structure]:
        return [self.accueil, self.declining, self.starter, self.incubator, self.fund]


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


class _Api:
    """The calls of the chain: one token per structure, errors in French with the answer."""

    def __init__(
        self, client: httpx.AsyncClient, directory: str, referral: str, wait_seconds: float
    ) -> None:
        self.client, self.directory, self.referral = client, directory, referral
        self.wait_seconds = wait_seconds
        self.tokens: dict[str, str] = {}

    async def login(self, who: Structure) -> None:
        r = await self.client.post(f"{self.directory}/v1/token", json={"api_key": who.api_key})
        if r.status_code != 200:
            raise _failed(f"jeton de {who.name}", r)
        self.tokens[who.id] = r.json()["access_token"]

    def auth(self, who: Structure) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who.id]}"}

    async def post(
        self, who: Structure, path: str, body: Any, what: str, *, expect: int = 200
    ) -> dict[str, Any]:
        """POST as `who`; retry while the referral service has not yet learned a member or an
        offer from directory.events (a 422 `member.unknown` / `not_found`)."""
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.2
        while True:
            r = await self.client.post(f"{self.referral}{path}", json=body, headers=self.auth(who))
            if r.status_code == expect:
                answer: dict[str, Any] = r.json()
                return answer
            code = _error_code(r)
            lagging = r.status_code == 422 and code in ("member.unknown", "not_found")
            if not lagging or time.monotonic() > deadline:
                raise _failed(what, r)
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    async def get(self, who: Structure, path: str, what: str) -> dict[str, Any]:
        r = await self.client.get(f"{self.referral}{path}", headers=self.auth(who))
        if r.status_code != 200:
            raise _failed(what, r)
        answer: dict[str, Any] = r.json()
        return answer


def _error_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _failed(what: str, response: httpx.Response) -> DemoChainError:
    return DemoChainError(f"{what} : HTTP {response.status_code} {response.text[:400]}")


async def find_starter_offer(
    client: httpx.AsyncClient,
    directory: str,
    body: Mapping[str, Any],
    starters: Mapping[str, Structure],
) -> tuple[Structure, dict[str, Any]] | None:
    """The first Starter ESS operator's accompaniment offer that covers the project's
    commune at its stage (as the directory ranks them) and whose required information the
    file holds; None when there is none."""
    params = {
        "commune": body["commune"],
        "stage": body["stage"],
        "kind": "accompagnement",
        "project": "collective" if body.get("collective") else "individual",
        "limit": "500",
    }
    if body.get("legal_form"):
        params["legal_form"] = body["legal_form"]
    r = await client.get(f"{directory}/v1/match", params=params)
    if r.status_code != 200:
        return None
    present = set(present_information(ProjectCreate.model_validate(body)))
    for result in r.json().get("results", []):
        member = starters.get(result.get("member", {}).get("id"))
        offer = result.get("offer", {})
        required = {item["code"] for item in offer.get("required_information", [])}
        if member is not None and required <= present:
            return member, offer
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


# --- the command ---------------------------------------------------------------------------


def _service_url(credentials: Mapping[str, Any], name: str) -> str:
    try:
        return str(credentials["services"][name]["url"]).rstrip("/")
    except (KeyError, TypeError) as exc:
        raise DemoChainError(f"URL du service {name} absente du fichier d'identifiants") from exc


async def run_demo(credentials_path: Path, console: Console, *, wait_seconds: float = 60) -> int:
    """`relais demo`: play the chain, print the journey; 0 on success, 1 with a reason."""
    from services.cli.demo import read_credentials
    from services.cli.journey import Labels, render_journey

    credentials = read_credentials(credentials_path)
    if credentials is None or not credentials.get("members"):
        console.print(
            f"[red]Erreur :[/] pas d'identifiants de démo dans {credentials_path} : lancez "
            "d'abord `relais dev` (ou `make run`), puis `relais demo` dans un autre terminal.",
            soft_wrap=True,
        )
        return 1
    started = time.perf_counter()
    try:
        directory = _service_url(credentials, "directory")
        referral = _service_url(credentials, "referral")
        with console.status("Parcours de démonstration…") as status:

            def say(text: str) -> None:
                status.update(f"{text}…")
                console.print(f"  [dim]·[/] {text}", soft_wrap=True)

            result = await play_chain(
                directory, referral, credentials["members"], say=say, wait_seconds=wait_seconds
            )
    except DemoChainError as exc:
        console.print(f"[red]Erreur :[/] {exc}", soft_wrap=True)
        return 1
    except httpx.HTTPError as exc:
        console.print(
            f"[red]Erreur :[/] la pile ne répond pas ({type(exc).__name__}: {exc}) : "
            "`relais dev` tourne-t-il toujours ?",
            soft_wrap=True,
        )
        return 1
    console.print(
        f"  [green]✓[/] parcours joué en {time.perf_counter() - started:.1f} s "
        f"(projet {result.project_id})\n",
        soft_wrap=True,
    )
    labels = Labels(members=result.member_names)
    title = f"Parcours de « {TITLE} » — projet {result.project_id}"
    console.print(render_journey(result.timeline, labels, title=title))
    console.print(
        f"\n[dim]Chronologie brute : GET {referral}/v1/projects/{result.project_id}/timeline "
        f"(jeton de {result.cast.accueil.name}).[/dim]",
        soft_wrap=True,
    )
    return 0
