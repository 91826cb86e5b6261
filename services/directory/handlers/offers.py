"""Offers: publish, update, change capacity, withdraw; the freshness reminders."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Territory
from contracts.events.directory import (
    OfferCapacityChanged,
    OfferFreshnessReminder,
    OfferPublished,
    OfferUpdated,
    OfferWithdrawn,
)
from services.directory import access, domain
from services.directory.handlers.common import (
    Emit,
    actor_of,
    get_member,
    networks_of,
    offers_changed,
)
from services.directory.handlers.territories import check_territories
from services.directory.models import Offer, OfferCreate, OfferPublic, OfferTerritory, OfferUpdate
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError
from services.kit.timers import Fired, schedule

log = logging.getLogger("relais.directory")
FRESHNESS_TIMER = "directory.freshness"


async def territories_of(session: AsyncSession, offer_id: str) -> list[Territory]:
    rows = await session.exec(select(OfferTerritory).where(OfferTerritory.offer_id == offer_id))
    return [Territory(level=r.level, code=r.code) for r in rows.all()]  # type: ignore[arg-type]


def _published(
    offer: Offer, territories: list[Territory], actor: str, *, new: bool
) -> OfferPublished:
    kind = OfferPublished if new else OfferUpdated
    return kind(
        member_id=offer.member_id,
        offer_id=offer.id,
        title=offer.title,
        kind=offer.kind,
        stages=offer.stages,
        themes=offer.themes,
        territories=territories,
        required_information=offer.required_information,
        capacity=offer.capacity,  # type: ignore[arg-type]
        project_types=offer.project_types,
        legal_forms=offer.legal_forms,
        max_structure_age_months=offer.max_structure_age_months,
        employer=offer.employer,
        cost=offer.cost,
        modes_accueil=offer.modes_accueil,
        updated_at=offer.updated_at.isoformat(),
        actor=actor,
    )


def _set_territories(session: AsyncSession, offer_id: str, territories: list[Territory]) -> None:
    for territory in {(t.level.value, t.code) for t in territories}:
        session.add(OfferTerritory(offer_id=offer_id, level=territory[0], code=territory[1]))


async def publish_offer(
    session: AsyncSession, data: OfferCreate, *, who: Principal, emit: Emit, clock: Clock
) -> Offer:
    member = await get_member(session, data.member_id)
    access.check_edit_offers_of(who, member.id, await networks_of(session, member.id))
    check_territories(data.territories)
    now = clock.now()
    offer = Offer.model_validate(
        data.model_dump(exclude={"territories"}), update={"created_at": now, "updated_at": now}
    )
    session.add(offer)
    await session.flush()
    _set_territories(session, offer.id, data.territories)
    emit(session, _published(offer, data.territories, actor_of(who), new=True))
    offers_changed(session)
    await session.commit()
    log.info("offer %s published by %s: %s", offer.id, member.id, offer.title)
    return offer


async def get_offer(session: AsyncSession, offer_id: str) -> Offer:
    offer = await session.get(Offer, offer_id)
    if offer is None:
        raise ApiError(404, "not_found", what="Offre", id=offer_id)
    return offer


async def update_offer(
    session: AsyncSession,
    offer_id: str,
    data: OfferUpdate,
    *,
    who: Principal,
    emit: Emit,
    clock: Clock,
) -> Offer:
    offer = await get_offer(session, offer_id)
    access.check_edit_offers_of(who, offer.member_id, await networks_of(session, offer.member_id))
    if offer.status != "published":
        raise ApiError(409, "conflict", reason="une offre retirée ne se modifie plus")
    changes = data.model_dump(exclude_unset=True, exclude={"territories"})
    for field, value in changes.items():
        setattr(offer, field, value)
    if data.territories is not None:
        check_territories(data.territories)
        await session.exec(delete(OfferTerritory).where(col(OfferTerritory.offer_id) == offer.id))  # type: ignore[call-overload]
        _set_territories(session, offer.id, data.territories)
    offer.updated_at, offer.reminded_at = clock.now(), None
    session.add(offer)
    territories = (
        data.territories
        if data.territories is not None
        else await territories_of(session, offer.id)
    )
    if set(changes) == {"capacity"} and data.territories is None:
        emit(
            session,
            OfferCapacityChanged(
                member_id=offer.member_id,
                offer_id=offer.id,
                capacity=offer.capacity,
                actor=actor_of(who),
            ),
        )  # type: ignore[arg-type]
    else:
        emit(session, _published(offer, territories, actor_of(who), new=False))
    offers_changed(session)
    await session.commit()
    log.info("offer %s updated (%s)", offer.id, ", ".join(sorted(changes)) or "territories")
    return offer


async def withdraw_offer(
    session: AsyncSession, offer_id: str, *, who: Principal, emit: Emit, clock: Clock
) -> Offer:
    offer = await get_offer(session, offer_id)
    access.check_edit_offers_of(who, offer.member_id, await networks_of(session, offer.member_id))
    if offer.status == "withdrawn":
        raise ApiError(409, "conflict", reason="l'offre est déjà retirée")
    offer.status, offer.updated_at = "withdrawn", clock.now()
    session.add(offer)
    emit(session, OfferWithdrawn(member_id=offer.member_id, offer_id=offer.id, actor=actor_of(who)))
    offers_changed(session)
    await session.commit()
    log.info("offer %s withdrawn", offer.id)
    return offer


async def offer_public(session: AsyncSession, offer: Offer, now: datetime) -> OfferPublic:
    return OfferPublic.model_validate(
        offer,
        update={
            "territories": await territories_of(session, offer.id),
            "stale": domain.is_stale(offer.updated_at, now),
        },
    )


async def list_offers(
    session: AsyncSession,
    *,
    member_id: str | None,
    status: str | None,
    stale_only: bool,
    now: datetime,
    limit: int,
    offset: int,
) -> list[OfferPublic]:
    query = select(Offer).order_by(col(Offer.updated_at).desc(), col(Offer.id))
    if member_id:
        query = query.where(Offer.member_id == member_id)
    if status:
        query = query.where(Offer.status == status)
    if stale_only:
        query = query.where(col(Offer.updated_at) < domain.stale_before(now))
    offers = (await session.exec(query.offset(offset).limit(limit))).all()
    return [await offer_public(session, offer, now) for offer in offers]


async def remind_stale_offers(fired: Fired, *, emit: Emit) -> None:
    """Daily: each offer not updated for 6 months gets a reminder, then one a month at most."""
    session, now = fired.session, fired.clock.now()
    stale = await session.exec(
        select(Offer).where(
            Offer.status == "published",
            col(Offer.updated_at) < domain.stale_before(now),
            (col(Offer.reminded_at).is_(None))
            | (col(Offer.reminded_at) < now - timedelta(days=30)),
        )
    )
    count = 0
    for offer in stale.all():
        emit(
            session,
            OfferFreshnessReminder(
                member_id=offer.member_id,
                offer_id=offer.id,
                last_updated=offer.updated_at.isoformat(),
                months_without_update=domain.months_between(offer.updated_at, now),
                actor="system",
            ),
        )
        offer.reminded_at = now
        session.add(offer)
        count += 1
    await schedule(session, kind=FRESHNESS_TIMER, key="daily", due_at=domain.next_daily_run(now))
    if count:
        log.info("freshness: %d stale offer(s) reminded", count)
