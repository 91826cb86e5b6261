"""Members and offers as data·inclusion v1 structures and services (official package models).

Choices, where the two vocabularies differ:

* ids are `relais--<member or offer id>` and `source` is `relais`;
* `type` from the offer kind: accompagnement -> accompagnement, financement ->
  aide-financiere, formation -> formation, information -> information, mise en réseau ->
  atelier (a group activity around a theme), hébergement/incubation -> accompagnement (an
  incubation programme is first of all support; the package's `aide-materielle` means
  equipment such as a car or a computer). On import, aide-materielle -> hébergement/incubation;
* `thematiques` = the stages' `creer-une-entreprise--*` codes (STAGE_TO_DATA_INCLUSION) plus
  the themes that have a data·inclusion equivalent (THEME_TO_DATA_INCLUSION); the others
  have none and are not exported;
* `zone_eligibilite`: communes, EPCI (SIREN) and départements as they are; a région becomes
  its départements (data·inclusion takes no région codes: `32` would read as the Gers);
  national becomes `["france"]`, the code the schema documents for the whole country;
* `frais`: gratuit and payant as they are; "sur conditions" has no code: `frais` is left
  out and `frais_precisions` says so (and an import without `frais` reads "sur conditions");
* eligibility, the information an orientation must carry and capacity go to
  `conditions_acces` as French text; an offer without any restriction is `tous-publics`.

Items are validated with `Structure` / `Service`: a refused optional field (a website that
is not a URL) is left out, an item missing a required one is skipped and logged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from data_inclusion.schema.v1 import ReseauPorteur, Service, Structure, TypeService
from pydantic import BaseModel, EmailStr, HttpUrl, TypeAdapter, ValidationError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Territory
from services.directory import vocabulary as v
from services.directory.geo import load
from services.directory.handlers.members import list_members
from services.directory.interchange.zones import zone_eligibilite
from services.directory.models import Member, Membership, Offer, OfferTerritory
from services.kit.clock import PARIS

log = logging.getLogger("relais.directory.interchange")

SOURCE = "relais"
KIND_TO_TYPE: dict[str, TypeService] = {
    "accompagnement": TypeService.ACCOMPAGNEMENT,
    "financement": TypeService.AIDE_FINANCIERE,
    "formation": TypeService.FORMATION,
    "information": TypeService.INFORMATION,
    "hebergement_incubation": TypeService.ACCOMPAGNEMENT,
    "mise_en_reseau": TypeService.ATELIER,
}
TYPE_TO_KIND: dict[str, str] = {
    "accompagnement": "accompagnement",
    "aide-financiere": "financement",
    "aide-materielle": "hebergement_incubation",
    "atelier": "mise_en_reseau",
    "formation": "formation",
    "information": "information",
}
SCHEME_TO_RESEAU = {"france_active": "france-active"}
RESEAUX = frozenset(r.value for r in ReseauPorteur)
MODE_TO_DI = {"en_presentiel": "en-presentiel", "a_distance": "a-distance"}
SORTED_LISTS = (
    "thematiques modes_accueil publics modes_mobilisation mobilisable_par reseaux_porteurs"
).split()


def di_id(relais_id: str) -> str:
    return f"{SOURCE}--{relais_id}"


def date_maj(moment: datetime) -> date:
    """The Paris calendar date, never after today (the package refuses future dates)."""
    return min(moment.astimezone(PARIS).date(), date.today())


def thematiques(stages: Iterable[str], themes: Iterable[str]) -> list[str]:
    codes = [v.STAGE_TO_DATA_INCLUSION[s] for s in stages if s in v.STAGE_TO_DATA_INCLUSION]
    codes += [code for theme in themes for code in v.THEME_TO_DATA_INCLUSION.get(theme, [])]
    return sorted(set(codes))


def _labels(vocabulary: v.Labels, codes: Iterable[str]) -> str:
    return ", ".join(v.label(vocabulary, code) for code in codes)


def conditions_acces(offer: Offer) -> str | None:
    parts = []
    if offer.project_types and len(set(offer.project_types)) == 1:
        only = "individuels" if offer.project_types[0] == "individual" else "collectifs"
        parts.append(f"Projets {only} uniquement.")
    if offer.legal_forms:
        parts.append(f"Formes juridiques : {_labels(v.LEGAL_FORMS, offer.legal_forms)}.")
    if offer.max_structure_age_months is not None:
        parts.append(f"Structures de moins de {offer.max_structure_age_months} mois.")
    if offer.employer is not None:
        parts.append("Structures employeuses." if offer.employer else "Structures sans salarié.")
    if offer.required_information:
        wanted = _labels(v.REQUIRED_INFORMATION, offer.required_information)
        parts.append(f"L'orientation précise : {wanted}.")
    if offer.capacity != "open":
        parts.append(f"Capacité : {v.label(v.CAPACITIES, offer.capacity).lower()}.")
    return " ".join(parts) or None


def _restricted(offer: Offer) -> bool:
    return bool(
        (offer.project_types and len(set(offer.project_types)) == 1)
        or offer.legal_forms
        or offer.max_structure_age_months is not None
        or offer.employer is not None
    )


def validated(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any] | None:
    """The item as the official model dumps it; refused optional fields are left out."""
    candidate = {key: value for key, value in data.items() if value not in (None, "", [], set())}
    for _attempt in range(3):
        try:
            item = model.model_validate(candidate)
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            required = {name for name, f in model.model_fields.items() if f.is_required()}
            if not bad or bad & required:
                log.warning("data·inclusion export skips %s: %s", data.get("id"), exc)
                return None
            candidate = {key: value for key, value in candidate.items() if key not in bad}
            continue
        dumped = item.model_dump(mode="json", exclude_none=True)
        for key in SORTED_LISTS:
            if key in dumped:
                dumped[key] = sorted(dumped[key])
        return dumped
    return None


def _place(member: Member) -> dict[str, Any]:
    commune = load().commune(member.commune) if member.commune else None
    if commune is None:
        return {"adresse": member.address}
    postcode = commune.postcodes[0] if commune.postcodes else None
    return {
        "adresse": member.address,
        "commune": commune.name,
        "code_insee": commune.code,
        "code_postal": postcode,
    }


def structure_of(member: Member, base_url: str) -> dict[str, Any] | None:
    reseaux = {SCHEME_TO_RESEAU[s] for s in member.schemes if s in SCHEME_TO_RESEAU}
    reseaux |= {
        n.strip().lower().replace("_", "-").replace(" ", "-") for n in member.national_networks
    }
    schemes = [s for s in member.schemes if s != "autre"]
    return validated(
        Structure,
        {
            "source": SOURCE,
            "id": di_id(member.id),
            "nom": member.name[:150],
            "date_maj": date_maj(member.updated_at),
            "description": f"Dispositifs : {_labels(v.SCHEMES, schemes)}." if schemes else None,
            "lien_source": f"{base_url}/v1/members/{member.id}",
            "siret": member.siret,
            **_place(member),
            "telephone": member.contact_phone,
            "courriel": _email(member.contact_email),
            "site_web": _with_scheme(member.website),
            "reseaux_porteurs": {r for r in reseaux if r in RESEAUX} or None,
        },
    )


def _with_scheme(url: str | None) -> str | None:
    """A URL the package accepts (a bare `exemple.fr` gains https://), else None."""
    if url and "://" not in url:
        url = f"https://{url}"
    return url if url and _accepts(_URL, url) else None


def _email(value: str | None) -> str | None:
    return value if value and _accepts(_EMAIL, value) else None


def _accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    with contextlib.suppress(ValidationError):
        adapter.validate_python(value)
        return True
    return False


_URL, _EMAIL = TypeAdapter(HttpUrl), TypeAdapter(EmailStr)


def _describe(offer: Offer, member: Member) -> str:
    if len(offer.description.strip()) >= 5:
        return offer.description.strip()
    kind = v.label(v.OFFER_KINDS, offer.kind)
    return f"{kind} proposé par {member.name}. Stades : {_labels(v.STAGES, offer.stages)}."


def service_of(
    offer: Offer, territories: list[Territory], member: Member, base_url: str
) -> dict[str, Any] | None:
    email = _email(offer.contact_email) or _email(member.contact_email)
    link = _with_scheme(offer.url)
    mobilisation = {
        "envoyer-un-courriel" if email else None,
        "telephoner" if member.contact_phone else None,
        "utiliser-lien-mobilisation" if link else None,
    } - {None}
    return validated(
        Service,
        {
            "source": SOURCE,
            "id": di_id(offer.id),
            "structure_id": di_id(member.id),
            "nom": offer.title,
            "description": _describe(offer, member),
            "date_maj": date_maj(offer.updated_at),
            "lien_source": f"{base_url}/v1/offers/{offer.id}",
            "type": KIND_TO_TYPE.get(offer.kind),
            "thematiques": thematiques(offer.stages, offer.themes),
            "frais": offer.cost if offer.cost in ("gratuit", "payant") else None,
            "frais_precisions": "Gratuit ou payant selon la situation du projet."
            if offer.cost == "sur_conditions"
            else None,
            "publics": None if _restricted(offer) else ["tous-publics"],
            "conditions_acces": conditions_acces(offer),
            **_place(member),
            "telephone": member.contact_phone,
            "courriel": email,
            "modes_accueil": [MODE_TO_DI[m] for m in offer.modes_accueil if m in MODE_TO_DI],
            "zone_eligibilite": zone_eligibilite(territories),
            "lien_mobilisation": link,
            "modes_mobilisation": mobilisation,
            "mobilisable_par": ["professionnels", "usagers"],
        },
    )


async def export_structures(
    session: AsyncSession, *, network_id: str | None, base_url: str
) -> list[dict[str, Any]]:
    """Active members (of one network, or all) as data·inclusion structures."""
    members = await list_members(session, network_id=network_id, status="active")
    return [s for m in members if (s := structure_of(m, base_url)) is not None]


async def live_offers(
    session: AsyncSession, network_id: str | None, *, limit: int | None = None, offset: int = 0
) -> tuple[list[tuple[Offer, Member, list[Territory]]], int]:
    """Published offers of active members (one page of them, by id) and how many there are."""

    def live(query: Any) -> Any:
        query = query.join(Member, col(Member.id) == col(Offer.member_id))
        query = query.where(Offer.status == "published", Member.status == "active")
        if network_id:
            query = query.join(Membership, col(Membership.member_id) == col(Member.id))
            query = query.where(Membership.network_id == network_id)
        return query

    query = live(select(Offer, Member))
    total = (await session.exec(live(select(func.count()).select_from(Offer)))).one()
    rows = (await session.exec(query.order_by(col(Offer.id)).offset(offset).limit(limit))).all()
    ids = [offer.id for offer, _ in rows]
    territories: dict[str, list[Territory]] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists on every backend
        chunk = select(OfferTerritory).where(
            col(OfferTerritory.offer_id).in_(ids[start : start + 500])
        )
        for place in (await session.exec(chunk)).all():
            territory = Territory(level=place.level, code=place.code)  # type: ignore[arg-type]
            territories.setdefault(place.offer_id, []).append(territory)
    return [(o, m, territories.get(o.id, [])) for o, m in rows], int(total)


async def export_services(
    session: AsyncSession, *, network_id: str | None, base_url: str
) -> list[dict[str, Any]]:
    """Published offers of active members as data·inclusion services."""
    rows, _total = await live_offers(session, network_id)
    return [s for o, m, t in rows if (s := service_of(o, t, m, base_url)) is not None]
