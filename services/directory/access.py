"""Who may change what in the directory: pure rules over a Principal (no I/O).

Public reads need no token. Member admins (and their member's API-key tools) edit their own
member's offers and keys; member admins also edit their member and invite its users;
network operators edit their network's members and everything of those members; platform
admins create networks and may do everything. Everyone else gets 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.directory.vocabulary import MEMBER_ROLES, NETWORK_ROLES
from services.kit.auth import Principal
from services.kit.errors import ApiError

PLATFORM_ADMIN = "platform_admin"
MEMBER_ADMIN = "member_admin"
MEMBER_TOOL = "member_tool"
NETWORK_OPERATOR = "network_operator"


def deny(reason: str) -> ApiError:
    return ApiError(403, "auth.forbidden", reason=reason)


def is_platform_admin(who: Principal) -> bool:
    return who.has_role(PLATFORM_ADMIN)


def operates(who: Principal, network_ids: Iterable[str]) -> bool:
    """True when `who` operates at least one of these networks."""
    return who.has_role(NETWORK_OPERATOR) and bool(set(who.network_ids) & set(network_ids))


def check_create_network(who: Principal) -> None:
    if not is_platform_admin(who):
        raise deny("seul·e un·e administrateur·rice de la plateforme crée un réseau")


def check_register_member(who: Principal, network_ids: list[str]) -> None:
    if is_platform_admin(who):
        return
    if not network_ids or not who.has_role(NETWORK_OPERATOR):
        raise deny("seul·e un·e opérateur·rice de réseau inscrit une structure dans son réseau")
    if not set(network_ids) <= set(who.network_ids):
        raise deny("vous ne pouvez inscrire une structure que dans vos réseaux")


def check_edit_member(who: Principal, member_id: str, member_networks: list[str]) -> None:
    if is_platform_admin(who) or operates(who, member_networks):
        return
    if who.member_id == member_id and who.has_role(MEMBER_ADMIN):
        return
    raise deny("cette structure n'est pas la vôtre")


def check_suspend_member(who: Principal, member_networks: list[str]) -> None:
    if not (is_platform_admin(who) or operates(who, member_networks)):
        raise deny("seul l'opérateur du réseau suspend ou réactive une structure")


def check_edit_offers_of(who: Principal, member_id: str, member_networks: list[str]) -> None:
    """Offers and keys of a member: its admins and tools, its network's operators."""
    if is_platform_admin(who) or operates(who, member_networks):
        return
    if who.member_id == member_id and who.has_role(MEMBER_ADMIN, MEMBER_TOOL):
        return
    raise deny("ces offres appartiennent à une autre structure")


def check_manage_user(
    who: Principal,
    *,
    roles: Iterable[str],
    member_id: str | None,
    member_networks: list[str],
    network_id: str | None,
) -> None:
    """Invite or deactivate a user with these roles, of this member or network."""
    roles = set(roles)
    if is_platform_admin(who):
        return
    if member_id is not None:
        if not roles <= MEMBER_ROLES:
            raise deny(
                "un·e utilisateur·rice de structure est conseiller·ère ou administrateur·rice"
            )
        if who.member_id == member_id and who.has_role(MEMBER_ADMIN):
            return
        if operates(who, member_networks):
            return
        raise deny("vous ne gérez pas les utilisateurs de cette structure")
    if network_id is not None and roles <= NETWORK_ROLES and operates(who, [network_id]):
        return
    raise deny("vous ne gérez pas ces utilisateurs")
