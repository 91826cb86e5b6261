"""Demo data: a realistic, clearly fictional ESS support network, generated deterministically.

`generate()` always returns the same data (a `random.Random(2026)`, no clock, the vendored
geography): `relais dev` loads it through the directory API (services.cli.demo) and
docs/demo.md describes it.

* **tremplin-demo**, a Tremplin-like network in Hauts-de-France (région 32): 46 structures
  in the five départements (02 Aisne, 59 Nord, 60 Oise, 62 Pas-de-Calais, 80 Somme), first
  and second circle — Starter ESS operators, a DLA per département, incubators, fabriques à
  initiatives, two France Active-like funds, CAE, PIVA+ points, the CRESS, tiers-lieux,
  Initiative platforms, a cooperative bank, a foundation — and 162 offers of every kind at
  every stage, on communes, EPCI, départements, the région and the whole country.
* **essor-demo**, a small network in Pays de la Loire (région 52): 7 structures, 14 offers.
  The cooperative bank (Lille) belongs to both networks, with offers in each région.

Everything is fictional: every name says « Démo », addresses say « adresse fictive », SIRETs
are random 14-digit numbers with a valid Luhn key, phone numbers are in the 01 99 00 range
kept for fiction, e-mail addresses and websites are under `demo.relais.test` (a reserved
domain that never delivers). Communes, EPCI and départements are real INSEE codes.

Deliberate coverage gaps (`GAPS`): in région 32, at département level, every offer kind is
available at every stage in every département, except

1. **accompagnement at stage idée in the Aisne (02)**: no Starter ESS operator or fabrique à
   initiatives works there, the Saint-Quentin incubator starts at faisabilité, and no
   régional or national accompagnement starts at idée;
2. **financement at stage consolidation in the Oise (60)**: the Picardie fund's consolidation
   products (prêt participatif, contrat d'apport associatif) cover the Aisne and the Somme
   only, and no régional lender finances consolidation;
3. **formation at stage difficulté/rebond in the Somme (80)**: the DLA Somme's training
   cycle stops at consolidation and the regional institute runs its rebound cycle in the
   four other départements.

"No offer" is strict: no offer of that kind at that stage reaches any commune of the
département, whatever its level (commune, EPCI, département, région, national); the
generator enforces it (`_respect_gaps`) and tests/unit/test_demo_data.py checks it, and that
these are the only département-level gaps of région 32.

Demo accounts (`DemoData.accounts`), all with the password `DEMO_PASSWORD`: per member an
adviser `conseil.<slug>@demo.relais.test` and a member admin `admin.<slug>@…`; per network
an operator `operateur.tremplin@…`, `operateur.essor@…`; a funder for région 32
`financeur.region32@…` (attached to tremplin-demo).
"""

from __future__ import annotations

import random
from dataclasses import replace

from services.directory.demo_data.members import (
    EMAIL_DOMAIN,
    ESSOR,
    NETWORKS,
    SPECS,
    TREMPLIN,
    build_member,
    email,
)
from services.directory.demo_data.model import (
    CoverageGap,
    DemoAccount,
    DemoData,
    DemoMember,
    DemoNetwork,
    DemoOffer,
)
from services.directory.demo_data.offers import build_offers
from services.directory.demo_data.places import geography, reaches

__all__ = [
    "DEMO_PASSWORD",
    "EMAIL_DOMAIN",
    "ESSOR",
    "GAPS",
    "SEED",
    "TREMPLIN",
    "CoverageGap",
    "DemoAccount",
    "DemoData",
    "DemoMember",
    "DemoNetwork",
    "DemoOffer",
    "generate",
    "reaches",
]

SEED = 2026
DEMO_PASSWORD = "Demo-Relais-2026"


def _gap(departement: str, kind: str, stage: str, why: str) -> CoverageGap:
    name = geography().name_of("departement", departement)
    return CoverageGap("32", departement, name, kind, stage, why)


GAPS: tuple[CoverageGap, ...] = (
    _gap(
        "02",
        "accompagnement",
        "idee",
        "Aucun opérateur Starter ESS ni fabrique à initiatives dans l'Aisne ; l'incubateur de "
        "Saint-Quentin commence à la faisabilité.",
    ),
    _gap(
        "60",
        "financement",
        "consolidation",
        "Les produits de consolidation du fonds Démo Solidaire Picardie couvrent l'Aisne et la "
        "Somme, pas l'Oise.",
    ),
    _gap(
        "80",
        "formation",
        "difficulte_rebond",
        "Le cycle de formations du DLA Démo Somme s'arrête à la consolidation ; le cycle "
        "« rebond » de l'Institut Démo n'est pas proposé dans la Somme.",
    ),
)

FIRST_NAMES = (
    "Camille", "Dominique", "Claude", "Alix", "Sacha", "Maxime", "Lou", "Noa", "Charlie",
    "Morgan", "Ange", "Eden", "Yael", "Louison", "Andrea", "Swann",
)  # fmt: skip
LAST_NAMES = ("Exemple", "Démo", "Fictif", "Modèle", "Essai", "Maquette")


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _accounts(members: list[DemoMember], rng: random.Random) -> list[DemoAccount]:
    accounts = [
        DemoAccount(
            email=email("operateur.tremplin"),
            name=f"{_person(rng)} (opérateur·rice Tremplin Démo)",
            roles=("network_operator",),
            member=None,
            network=TREMPLIN,
        ),
        DemoAccount(
            email=email("operateur.essor"),
            name=f"{_person(rng)} (opérateur·rice Essor Démo)",
            roles=("network_operator",),
            member=None,
            network=ESSOR,
        ),
        DemoAccount(
            email=email("financeur.region32"),
            name=f"{_person(rng)} (financeur, Région Hauts-de-France fictive)",
            roles=("funder",),
            member=None,
            network=TREMPLIN,
        ),
    ]
    for member in members:
        for local, role, what in (
            ("conseil", "adviser", "conseil"),
            ("admin", "member_admin", "administration"),
        ):
            accounts.append(
                DemoAccount(
                    email=email(f"{local}.{member.slug}"),
                    name=f"{_person(rng)} ({what}, {member.name})",
                    roles=(role,),
                    member=member.slug,
                    network=None,
                )
            )
    return accounts


def _respect_gaps(offers: list[DemoOffer], gaps: tuple[CoverageGap, ...]) -> list[DemoOffer]:
    """Take a gap's stage off every offer of its kind that reaches its département."""
    kept = []
    for offer in offers:
        stages = offer.stages
        for gap in gaps:
            if offer.kind == gap.kind and gap.stage in stages:
                if reaches(offer.territories, gap.departement):
                    stages = tuple(s for s in stages if s != gap.stage)
        if not stages:
            raise ValueError(f"demo offer {offer.title!r} has no stage left outside the gaps")
        kept.append(offer if stages == offer.stages else replace(offer, stages=stages))
    return kept


def generate(seed: int = SEED) -> DemoData:
    """The demo networks, members, offers, accounts and gaps (the same ones on every call)."""
    rng = random.Random(seed)
    members = [build_member(spec, rng) for spec in SPECS]
    offers = [
        offer
        for spec, member in zip(SPECS, members, strict=True)
        for offer in build_offers(spec, member, rng)
    ]
    return DemoData(
        networks=NETWORKS,
        members=tuple(members),
        offers=tuple(_respect_gaps(offers, GAPS)),
        accounts=tuple(_accounts(members, rng)),
        gaps=GAPS,
        password=DEMO_PASSWORD,
    )
