"""Offers as Open Referral HSDS 3 services, for `/v1/hsds/services` (read only).

The page follows the HSDS API reference for lists (`total_items`, `total_pages`,
`page_number`, `size`, `first_page`, `last_page`, `empty`, then `contents`). Each service
carries its organization, its service areas (one per Relais territory, named, with the
INSEE code as `extent` of type `text`), and its stages, themes and kind as attributes of
three Relais taxonomies (`relais-stade`, `relais-theme`, `relais-type-offre`).
"""

from __future__ import annotations

import math
from typing import Any

from contracts.base import Territory
from services.directory import vocabulary as v
from services.directory.geo import load
from services.directory.interchange.data_inclusion import conditions_acces
from services.directory.models import Member, Offer

TAXONOMIES = {
    "relais-type-offre": v.OFFER_KINDS,
    "relais-stade": v.STAGES,
    "relais-theme": v.THEMES,
}


def _attributes(offer: Offer) -> list[dict[str, Any]]:
    chosen = {
        "relais-type-offre": [offer.kind],
        "relais-stade": offer.stages,
        "relais-theme": offer.themes,
    }
    return [
        {
            "id": f"{offer.id}:{taxonomy}:{code}",
            "link_id": offer.id,
            "link_type": "service",
            "link_entity": "service",
            "label": v.label(TAXONOMIES[taxonomy], code),
            "taxonomy_term": {
                "id": f"{taxonomy}:{code}",
                "code": code,
                "term": v.label(TAXONOMIES[taxonomy], code),
                "taxonomy": taxonomy,
            },
        }
        for taxonomy, codes in chosen.items()
        for code in codes
    ]


def _areas(offer: Offer, territories: list[Territory]) -> list[dict[str, Any]]:
    geo = load()
    return [
        {
            "id": f"{offer.id}:{t.level.value}:{t.code}",
            "service_id": offer.id,
            "name": geo.name_of(t.level.value, t.code),
            "description": f"{t.level.value} {t.code}",
            "extent": t.code,
            "extent_type": "text",
        }
        for t in territories
    ]


def service(offer: Offer, member: Member, territories: list[Territory], base_url: str) -> dict:
    organization = {
        "id": member.id,
        "name": member.name,
        "description": member.name,
        "email": member.contact_email,
        "website": member.website,
        "uri": f"{base_url}/v1/members/{member.id}",
    }
    phones = [{"id": f"{member.id}:tel", "number": member.contact_phone}]
    return {
        "id": offer.id,
        "organization_id": member.id,
        "name": offer.title,
        "description": offer.description or offer.title,
        "url": offer.url,
        "email": offer.contact_email or member.contact_email,
        "status": "active",
        "fees_description": v.label(v.COSTS, offer.cost),
        "eligibility_description": conditions_acces(offer),
        "assured_date": offer.updated_at.date().isoformat(),
        "last_modified": offer.updated_at.isoformat(),
        "organization": {k: value for k, value in organization.items() if value},
        "phones": phones if member.contact_phone else [],
        "service_areas": _areas(offer, territories),
        "attributes": _attributes(offer),
    }


def page(
    rows: list[tuple[Offer, Member, list[Territory]]],
    *,
    total: int,
    page_number: int,
    per_page: int,
    base_url: str,
) -> dict[str, Any]:
    pages = max(1, math.ceil(total / per_page))
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page_number,
        "size": len(rows),
        "first_page": page_number == 1,
        "last_page": page_number >= pages,
        "empty": not rows,
        "contents": [service(o, m, t, base_url) for o, m, t in rows],
    }
