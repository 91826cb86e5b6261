"""Demo offers: each member's profile templates (templates.py) made concrete with a seeded
random generator — themes, eligibility, capacity, required information, nearby communes."""

from __future__ import annotations

import random

from services.directory.demo_data.members import Spec
from services.directory.demo_data.model import DemoMember, DemoOffer, Where
from services.directory.demo_data.places import epci_communes, geography
from services.directory.demo_data.templates import (
    COLLECTIVE,
    FUND_ZONES,
    HYBRID,
    INDIVIDUAL,
    MOINS_DE_3_ANS,
    PRESENTIEL,
    REMOTE,
    TEMPLATES,
    Template,
)
from services.directory.vocabulary import REQUIRED_INFORMATION

NOTE = " Offre fictive, publiée pour la démonstration de Relais."


def _territories(
    template: Template, spec: Spec, member: DemoMember, rng: random.Random
) -> tuple[Where, ...]:
    commune = geography().commune(member.commune)
    assert commune is not None
    found: list[Where] = []
    for token in template.scope:
        if token == "departement" and spec.local:
            token = "epci"
        if token == "commune":
            found.append(("commune", commune.code))
        elif token == "communes":
            others = [c for c in epci_communes(commune.epci or "") if c != commune.code]
            picked = sorted(rng.sample(others, min(len(others), rng.randint(2, 4))))
            found += [("commune", code) for code in [commune.code, *picked]]
        elif token == "epci" and commune.epci:
            found.append(("epci", commune.epci))
        elif token == "departement":
            found.append(("departement", commune.departement))
        elif token == "region":
            found.append(("region", commune.region))
        elif token == "national":
            found.append(("national", "FR"))
        elif token.startswith("dep:"):
            found.append(("departement", token[4:]))
        elif token.startswith("region:"):
            found.append(("region", token[7:]))
        elif token in ("fund", "fund_consolidation"):
            products, consolidation = FUND_ZONES[spec.profile]
            found += products if token == "fund" else consolidation
        else:
            raise ValueError(f"scope {token!r} of {template.title!r} ({spec.slug})")
    return tuple(dict.fromkeys(found))


def _themes(template: Template, spec: Spec, rng: random.Random) -> tuple[str, ...]:
    if template.generalist:
        return ()
    drawn = rng.sample(spec.themes, min(len(spec.themes), rng.randint(1, 2)))
    return tuple(dict.fromkeys([*template.themes, *drawn]))


ABOUT_A_STRUCTURE = frozenset({"date_creation", "nombre_salaries", "forme_juridique"})


def _information(template: Template, rng: random.Random) -> tuple[str, ...]:
    early = "idee" in template.stages  # no structure yet: nothing to ask about it
    others = [
        code
        for code in REQUIRED_INFORMATION
        if code not in template.info and not (early and code in ABOUT_A_STRUCTURE)
    ]
    extra = rng.sample(others, rng.choice((0, 0, 1, 2)))
    return tuple(code for code in REQUIRED_INFORMATION if code in {*template.info, *extra})


def build_offers(spec: Spec, member: DemoMember, rng: random.Random) -> list[DemoOffer]:
    templates = TEMPLATES[spec.profile][: spec.offers]
    offers = []
    for number, template in enumerate(templates, start=1):
        project_types = template.project_types
        if project_types is None:
            project_types = rng.choice(((), (), COLLECTIVE, INDIVIDUAL))
        young = template.young
        if young is None:  # "moins de 3 ans" makes sense once the structure exists
            young = rng.random() < 0.3 and not {"idee", "faisabilite"} & set(template.stages)
        offers.append(
            DemoOffer(
                member=spec.slug,
                network=template.network or spec.networks[0],
                title=f"{template.title} — {spec.area}",
                description=template.description + NOTE,
                kind=template.kind,
                stages=template.stages,
                themes=_themes(template, spec, rng),
                project_types=project_types,
                legal_forms=template.legal_forms,
                max_structure_age_months=MOINS_DE_3_ANS if young else None,
                employer=template.employer,
                cost=template.cost,
                modes_accueil=template.modes
                or rng.choices((PRESENTIEL, HYBRID, REMOTE), weights=(6, 3, 1))[0],
                capacity=template.capacity
                or rng.choices(("open", "waitlist", "full"), weights=(78, 15, 7))[0],
                required_information=_information(template, rng),
                territories=_territories(template, spec, member, rng),
                url=f"{member.website}/offres/{number}",
                contact_email=member.contact_email,
            )
        )
    return offers
