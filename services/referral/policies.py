"""Send-time policies, as data, over the service's own copy of the directory's offers.

* an offer's required information must be in the file (else 422 naming what is missing);
* a DLA for a structure younger than 3 years: warn, naming a Starter ESS operator that
  covers the commune (DLA are for established employers; Starter ESS for young projects);
* an offer whose territory does not cover the project's commune: warn.
The geography is the vendored reference data (static files, not the directory's tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.directory.geo import load as load_geography
from services.directory.vocabulary import REQUIRED_INFORMATION
from services.kit.clock import paris_day
from services.kit.errors import ApiError
from services.referral.models import KnownMember, KnownOffer, Project


@dataclass(frozen=True)
class Policies:
    young_structure_months: int = 36
    dla_scheme: str = "dla"
    starter_scheme: str = "starter_ess"


DEFAULT = Policies()


def covers(territories: list[dict[str, str]], commune: str) -> bool:
    found = load_geography().commune(commune)
    if found is None:
        return False
    around = {(t.level.value, t.code) for t in found.territories()}
    return any((t.get("level"), t.get("code")) in around for t in territories)


def age_in_months(created_on: date | None, now: datetime) -> int | None:
    """Whole months elapsed since `created_on` (a month counts once its day is reached)."""
    if created_on is None:
        return None
    today = paris_day(now)
    months = (today.year - created_on.year) * 12 + today.month - created_on.month
    return months - 1 if today.day < created_on.day else months


async def check_send(
    session: AsyncSession,
    project: Project,
    receiver: KnownMember,
    offer_id: str | None,
    *,
    now: datetime,
    rules: Policies = DEFAULT,
) -> list[str]:
    """Raise a 422 for what blocks the referral; return the warnings for what does not."""
    warnings: list[str] = []
    offer = None
    if offer_id is not None:
        offer = await session.get(KnownOffer, offer_id)
        if offer is None or offer.member_id != receiver.id or offer.status != "published":
            raise ApiError(422, "not_found", what="Offre de la structure destinataire", id=offer_id)
        missing = [c for c in offer.required_information if c not in project.present_information]
        if missing:
            raise ApiError(
                422,
                "referral.missing_information",
                missing=", ".join(REQUIRED_INFORMATION.get(c, (c, c))[0] for c in missing),
                details={"missing": missing},
            )
        if not covers(offer.territories, project.commune):
            warnings.append("territoire: l'offre ne couvre pas la commune du projet")
    age = age_in_months(project.structure_created_on, now)
    if (
        rules.dla_scheme in receiver.schemes
        and age is not None
        and age < rules.young_structure_months
    ):
        starter = await starter_operator_for(session, project.commune, rules)
        named = f" ; essayez d'abord {starter.name} ({starter.id})" if starter else ""
        warnings.append(
            f"dla: structure de moins de 3 ans, un opérateur Starter ESS est plus adapté{named}"
        )
    return warnings


async def starter_operator_for(
    session: AsyncSession, commune: str, rules: Policies
) -> KnownMember | None:
    members = (
        await session.exec(
            select(KnownMember)
            .where(KnownMember.status == "active")
            .order_by(col(KnownMember.name))
        )
    ).all()
    starters = {m.id: m for m in members if rules.starter_scheme in m.schemes}
    if not starters:
        return None
    offers = (
        await session.exec(
            select(KnownOffer).where(
                col(KnownOffer.member_id).in_(list(starters)), KnownOffer.status == "published"
            )
        )
    ).all()
    for starter in starters.values():  # by name: the same advice every time
        if any(o.member_id == starter.id and covers(o.territories, commune) for o in offers):
            return starter
    place = load_geography().commune(commune)
    same_department = [
        m
        for m in starters.values()
        if m.commune and place and m.commune[:2] == place.departement[:2]
    ]
    return same_department[0] if same_department else None
