"""`/v1/networks`: regional collectives."""

from __future__ import annotations

from fastapi import APIRouter

from services.directory.api.deps import Actor
from services.directory.handlers import networks
from services.directory.models import Network, NetworkCreate, NetworkPublic
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(prefix="/v1/networks", tags=["networks"])


@router.post("", status_code=201, response_model=NetworkPublic)
async def create_network(
    body: NetworkCreate, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> Network:
    return await networks.create_network(
        session, body, who=who, emit=runtime.emit, clock=runtime.clock
    )


@router.get("", response_model=list[NetworkPublic])
async def list_networks(session: SessionDep) -> list[Network]:
    return await networks.list_networks(session)


@router.get("/{network_id}", response_model=NetworkPublic)
async def get_network(network_id: str, session: SessionDep) -> Network:
    network = await session.get(Network, network_id)
    if network is None:
        raise ApiError(404, "not_found", what="Réseau", id=network_id)
    return network
