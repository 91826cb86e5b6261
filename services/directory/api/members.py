"""`/v1/members`, `/v1/api-keys`, `/v1/command-keys`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from services.directory.api.deps import Actor
from services.directory.handlers import member_keys, members
from services.directory.handlers.common import get_member, member_public
from services.directory.models import (
    ApiKeyCreated,
    ApiKeyPublic,
    CommandKey,
    CommandKeyCreate,
    CommandKeyPublic,
    MemberCreate,
    MemberPublic,
    MemberRegistration,
    MemberUpdate,
)
from services.kit.http import RuntimeDep, SessionDep

router = APIRouter(tags=["members"])


@router.post("/v1/members", status_code=201, response_model=MemberRegistration)
async def register_member(
    body: MemberCreate, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> MemberRegistration:
    member, api_key = await members.register_member(
        session, body, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return MemberRegistration(member=await member_public(session, member), api_key=api_key)


@router.get("/v1/members", response_model=list[MemberPublic])
async def list_members(
    session: SessionDep,
    network: Annotated[str | None, Query(description="network id")] = None,
    status: Annotated[str | None, Query(pattern="^(active|suspended)$")] = None,
) -> list[MemberPublic]:
    found = await members.list_members(session, network_id=network, status=status)
    return [await member_public(session, m) for m in found]


@router.get("/v1/members/{member_id}", response_model=MemberPublic)
async def get_member_route(member_id: str, session: SessionDep) -> MemberPublic:
    return await member_public(session, await get_member(session, member_id))


@router.patch("/v1/members/{member_id}", response_model=MemberPublic)
async def update_member(
    member_id: str, body: MemberUpdate, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> MemberPublic:
    member = await members.update_member(
        session, member_id, body, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return await member_public(session, member)


@router.post("/v1/members/{member_id}/suspend", response_model=MemberPublic)
async def suspend_member(
    member_id: str,
    who: Actor,
    session: SessionDep,
    runtime: RuntimeDep,
    reason: Annotated[str | None, Body(embed=True, max_length=500)] = None,
) -> MemberPublic:
    member = await members.set_member_status(
        session,
        member_id,
        suspended=True,
        reason=reason,
        who=who,
        emit=runtime.emit,
        clock=runtime.clock,
    )
    return await member_public(session, member)


@router.post("/v1/members/{member_id}/reactivate", response_model=MemberPublic)
async def reactivate_member(
    member_id: str, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> MemberPublic:
    member = await members.set_member_status(
        session,
        member_id,
        suspended=False,
        reason=None,
        who=who,
        emit=runtime.emit,
        clock=runtime.clock,
    )
    return await member_public(session, member)


@router.get("/v1/api-keys", response_model=list[ApiKeyPublic], tags=["keys"])
async def list_api_keys(member_id: str, who: Actor, session: SessionDep) -> list[ApiKeyPublic]:
    return [
        ApiKeyPublic.model_validate(k)
        for k in await member_keys.list_api_keys(session, member_id, who=who)
    ]


@router.post("/v1/api-keys", status_code=201, response_model=ApiKeyCreated, tags=["keys"])
async def create_api_key(
    who: Actor,
    session: SessionDep,
    runtime: RuntimeDep,
    member_id: Annotated[str, Body()],
    label: Annotated[str, Body(min_length=1, max_length=100)] = "default",
) -> ApiKeyCreated:
    key, secret = await member_keys.create_api_key(
        session, member_id, label, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return ApiKeyCreated.model_validate(key, update={"api_key": secret})


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyPublic, tags=["keys"])
async def revoke_api_key(
    key_id: str, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> ApiKeyPublic:
    key = await member_keys.revoke_api_key(
        session, key_id, who=who, emit=runtime.emit, clock=runtime.clock
    )
    return ApiKeyPublic.model_validate(key)


@router.get("/v1/command-keys", response_model=list[CommandKeyPublic], tags=["keys"])
async def list_command_keys(member_id: str, session: SessionDep) -> list[CommandKey]:
    """Public keys are public: anyone may verify a member's signed commands."""
    return await member_keys.list_command_keys(session, member_id)


@router.post("/v1/command-keys", status_code=201, response_model=CommandKeyPublic, tags=["keys"])
async def register_command_key(
    body: CommandKeyCreate,
    member_id: Annotated[str, Query()],
    who: Actor,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CommandKey:
    return await member_keys.register_command_key(
        session, member_id, body, who=who, emit=runtime.emit, clock=runtime.clock
    )


@router.delete("/v1/command-keys/{key_id}", response_model=CommandKeyPublic, tags=["keys"])
async def revoke_command_key(
    key_id: str, who: Actor, session: SessionDep, runtime: RuntimeDep
) -> CommandKey:
    return await member_keys.revoke_command_key(
        session, key_id, who=who, emit=runtime.emit, clock=runtime.clock
    )
