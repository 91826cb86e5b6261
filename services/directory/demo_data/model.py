"""The demo data's shapes: plain frozen dataclasses, and the API payloads they become."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.directory import vocabulary as v

Where = tuple[str, str]  # (level, code), as on the wire


@dataclass(frozen=True)
class DemoNetwork:
    id: str
    name: str
    region: str
    operator_emails: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        """The body of `POST /v1/networks`."""
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "operator_emails": list(self.operator_emails),
        }


@dataclass(frozen=True)
class DemoMember:
    slug: str
    name: str
    siret: str
    address: str
    commune: str
    departement: str
    contact_email: str
    contact_phone: str
    website: str
    network_ids: tuple[str, ...]
    circle: str
    schemes: tuple[str, ...]
    national_networks: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        """The body of `POST /v1/members`."""
        return {
            "name": self.name,
            "siret": self.siret,
            "address": self.address,
            "commune": self.commune,
            "contact_email": self.contact_email,
            "contact_phone": self.contact_phone,
            "website": self.website,
            "network_ids": list(self.network_ids),
            "circle": self.circle,
            "schemes": list(self.schemes),
            "national_networks": list(self.national_networks),
        }


@dataclass(frozen=True)
class DemoOffer:
    member: str  # the member's slug
    network: str  # the network it is published for (a member may belong to several)
    title: str
    description: str
    kind: str
    stages: tuple[str, ...]
    themes: tuple[str, ...]
    project_types: tuple[str, ...]
    legal_forms: tuple[str, ...]
    max_structure_age_months: int | None
    employer: bool | None
    cost: str
    modes_accueil: tuple[str, ...]
    capacity: str
    required_information: tuple[str, ...]
    territories: tuple[Where, ...]
    url: str
    contact_email: str

    def payload(self, member_id: str) -> dict[str, Any]:
        """The body of `POST /v1/offers` once the member has its id."""
        return {
            "member_id": member_id,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "stages": list(self.stages),
            "themes": list(self.themes),
            "project_types": list(self.project_types),
            "legal_forms": list(self.legal_forms),
            "max_structure_age_months": self.max_structure_age_months,
            "employer": self.employer,
            "cost": self.cost,
            "modes_accueil": list(self.modes_accueil),
            "capacity": self.capacity,
            "required_information": list(self.required_information),
            "territories": [{"level": level, "code": code} for level, code in self.territories],
            "url": self.url,
            "contact_email": self.contact_email,
        }


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    roles: tuple[str, ...]
    member: str | None  # the member's slug, for advisers and member admins
    network: str | None  # the network id, for operators and funders

    def payload(self, member_id: str | None) -> dict[str, Any]:
        """The body of `POST /v1/users` (the member's id, for member accounts)."""
        return {
            "email": self.email,
            "name": self.name,
            "roles": list(self.roles),
            "member_id": member_id,
            "network_id": self.network,
        }


@dataclass(frozen=True)
class CoverageGap:
    """No offer of `kind` at `stage` reaches any commune of `departement` (nor its région,
    nor the whole country): the coverage report must show it."""

    region: str
    departement: str
    departement_name: str
    kind: str
    stage: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {
            "region": self.region,
            "departement": self.departement,
            "departement_name": self.departement_name,
            "kind": self.kind,
            "kind_label": v.label(v.OFFER_KINDS, self.kind),
            "stage": self.stage,
            "stage_label": v.label(v.STAGES, self.stage),
            "why": self.why,
        }


@dataclass(frozen=True)
class DemoData:
    networks: tuple[DemoNetwork, ...]
    members: tuple[DemoMember, ...]
    offers: tuple[DemoOffer, ...]
    accounts: tuple[DemoAccount, ...]
    gaps: tuple[CoverageGap, ...]
    password: str

    def member(self, slug: str) -> DemoMember:
        for member in self.members:
            if member.slug == slug:
                return member
        raise KeyError(slug)

    def members_of(self, network_id: str) -> list[DemoMember]:
        return [m for m in self.members if network_id in m.network_ids]

    def offers_of(self, network_id: str) -> list[DemoOffer]:
        return [o for o in self.offers if o.network == network_id]

    def accounts_of(self, network_id: str) -> list[DemoAccount]:
        slugs = {m.slug for m in self.members_of(network_id)}
        return [a for a in self.accounts if a.network == network_id or a.member in slugs]
