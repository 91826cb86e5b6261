"""Networks: regional collectives. Only platform admins create them."""

from __future__ import annotations

import logging
import re

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.directory import NetworkCreated
from services.directory import access
from services.directory.handlers.common import Emit, actor_of
from services.directory.models import Network, NetworkCreate
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError

log = logging.getLogger("relais.directory")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "reseau"


async def create_network(
    session: AsyncSession, data: NetworkCreate, *, who: Principal, emit: Emit, clock: Clock
) -> Network:
    access.check_create_network(who)
    network_id = data.id or _slug(data.name)
    if await session.get(Network, network_id) is not None:
        raise ApiError(409, "conflict", reason=f"le réseau {network_id} existe déjà")
    network = Network(
        id=network_id,
        name=data.name,
        region=data.region,
        operator_emails=[str(e) for e in data.operator_emails],
        created_at=clock.now(),
    )
    session.add(network)
    emit(
        session,
        NetworkCreated(
            network_id=network.id, name=network.name, region=network.region, actor=actor_of(who)
        ),
    )
    await session.commit()
    log.info("network %s created: %s", network.id, network.name)
    return network


async def list_networks(session: AsyncSession) -> list[Network]:
    return list((await session.exec(select(Network).order_by(col(Network.id)))).all())
