"""Who reads which figures, and how a query's period reads (pure rules, no I/O).

A member sees its own figures; a network operator or a funder sees the networks named in
its token; a platform admin sees everything. The projector itself is in `projections/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.kit.auth import Principal
from services.kit.errors import ApiError

NETWORK_READERS = ("network_operator", "funder")
GROUPS = ("member", "network", "departement", "epci", "month", "stage")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(-\d{2})?$")


@dataclass(frozen=True)
class Scope:
    """What a reader may see: everything (both None), some networks, or one member."""

    networks: frozenset[str] | None = None
    member: str | None = None

    @property
    def everything(self) -> bool:
        return self.networks is None and self.member is None


def deny(reason: str) -> ApiError:
    return ApiError(403, "auth.forbidden", reason=reason)


def scope_of(who: Principal) -> Scope:
    if who.has_role("platform_admin"):
        return Scope()
    if who.has_role(*NETWORK_READERS) and who.network_ids:
        return Scope(networks=frozenset(who.network_ids))
    if who.member_id:
        return Scope(member=who.member_id)
    raise deny("aucune structure ni aucun réseau dans votre jeton")


def narrow(scope: Scope, *, member: str | None, network: str | None) -> tuple[str | None, Scope]:
    """The member filter to apply, and the networks left, refusing what is out of scope."""
    if scope.member is not None:
        if member not in (None, scope.member):
            raise deny("une structure ne voit que ses propres indicateurs")
        return scope.member, scope
    if network is not None:
        if scope.networks is not None and network not in scope.networks:
            raise deny("ce réseau n'est pas le vôtre")
        return member, Scope(networks=frozenset({network}))
    return member, scope


def may_read_member(scope: Scope, member_id: str, member_networks: Iterable[str]) -> bool:
    """A member report: the member itself, its networks' operators and funders, the admins."""
    if scope.everything:
        return True
    if scope.member is not None:
        return scope.member == member_id
    assert scope.networks is not None
    return bool(scope.networks & set(member_networks))


def month_of(value: str | None, name: str) -> str | None:
    """'YYYY-MM' from 'YYYY-MM' or 'YYYY-MM-DD' (the period is in whole months)."""
    if value is None or value == "":
        return None
    found = _MONTH.match(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ApiError(
            422, "validation", summary=f"{name} : mois attendu (AAAA-MM), reçu {value!r}"
        )
    return f"{found.group(1)}-{found.group(2)}"
