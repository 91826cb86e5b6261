"""Members: register, update, suspend and reactivate structures; each change is an event."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.directory import (
    MemberReactivated,
    MemberRegistered,
    MemberSuspended,
    MemberUpdated,
)
from services.directory import access, domain
from services.directory.handlers.common import (
    Emit,
    actor_of,
    check_networks_exist,
    get_member,
    networks_of,
    offers_changed,
)
from services.directory.handlers.territories import check_commune
from services.directory.models import ApiKey, Member, MemberCreate, Membership, MemberUpdate
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.directory")


def _facts(member: Member, network_ids: list[str]) -> dict[str, object]:
    return {
        "member_id": member.id,
        "name": member.name,
        "network_ids": network_ids,
        "commune": member.commune,
        "schemes": member.schemes,
        "circle": member.circle,
        "national_networks": member.national_networks,
        "siret": member.siret,
    }


async def register_member(
    session: AsyncSession, data: MemberCreate, *, who: Principal, emit: Emit, clock: Clock
) -> tuple[Member, str]:
    """Create a member and its first API key (shown once); rows and event commit together."""
    access.check_register_member(who, data.network_ids)
    await check_networks_exist(session, data.network_ids)
    if data.commune:
        check_commune(data.commune)
    now = clock.now()
    member = Member.model_validate(
        data.model_dump(exclude={"network_ids"}), update={"created_at": now, "updated_at": now}
    )
    session.add(member)
    await session.flush()
    for network_id in dict.fromkeys(data.network_ids):
        session.add(Membership(member_id=member.id, network_id=network_id))
    api_key = domain.new_api_key()
    key = ApiKey(member_id=member.id, secret_hash=domain.hash_api_key(api_key), created_at=now)
    session.add(key)
    emit(session, MemberRegistered(**_facts(member, data.network_ids), actor=actor_of(who)))  # type: ignore[arg-type]
    await session.commit()
    log.info("member %s registered: %s", member.id, member.name)
    return member, api_key


async def update_member(
    session: AsyncSession,
    member_id: str,
    data: MemberUpdate,
    *,
    who: Principal,
    emit: Emit,
    clock: Clock,
) -> Member:
    member = await get_member(session, member_id)
    networks = await networks_of(session, member_id)
    access.check_edit_member(who, member_id, networks)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("commune"):
        check_commune(changes["commune"])
    for field, value in changes.items():
        setattr(member, field, str(value) if field == "contact_email" and value else value)
    member.updated_at = clock.now()
    session.add(member)
    emit(session, MemberUpdated(**_facts(member, networks), actor=actor_of(who)))  # type: ignore[arg-type]
    offers_changed(session)  # member names are shown with its offers
    await session.commit()
    log.info("member %s updated (%s)", member.id, ", ".join(sorted(changes)) or "nothing")
    return member


async def set_member_status(
    session: AsyncSession,
    member_id: str,
    *,
    suspended: bool,
    reason: str | None,
    who: Principal,
    emit: Emit,
    clock: Clock,
) -> Member:
    """Suspend (its offers leave the match results) or reactivate a member."""
    member = await get_member(session, member_id)
    access.check_suspend_member(who, await networks_of(session, member_id))
    wanted = "suspended" if suspended else "active"
    if member.status == wanted:
        raise ApiError(
            409,
            "conflict",
            reason=f"la structure est déjà {'suspendue' if suspended else 'active'}",
        )
    member.status, member.updated_at = wanted, clock.now()
    session.add(member)
    event = (
        MemberSuspended(member_id=member.id, reason=reason, actor=actor_of(who))
        if suspended
        else MemberReactivated(member_id=member.id, actor=actor_of(who))
    )
    emit(session, event)
    offers_changed(session)
    await session.commit()
    log.info("member %s %s", member.id, wanted)
    return member


async def list_members(
    session: AsyncSession, *, network_id: str | None = None, status: str | None = None
) -> list[Member]:
    query = select(Member).order_by(col(Member.name))
    if network_id:
        query = query.join(Membership).where(Membership.network_id == network_id)
    if status:
        query = query.where(Member.status == status)
    return list((await session.exec(query)).all())
