"""What both importers share: the report, the access check, French reasons, one write per item.

Each member or offer is written by the directory's own use case in its own session: the
use case commits the row and its outbox event together, and a failure rolls back that item
only (the session closes without commit), so nothing is ever half-written.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.directory import access
from services.directory.handlers.common import Emit
from services.directory.handlers.members import register_member
from services.directory.handlers.offers import publish_offer
from services.directory.models import Member, MemberCreate, Membership, Network, Offer, OfferCreate
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.errors import ApiError
from services.kit.i18n import translate

log = logging.getLogger("relais.directory.interchange")

Progress = Callable[[int, int], None]
"""`progress(done, total)`: called once validation is over (done=0), then after each write."""
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class ItemReport(BaseModel):
    kind: Literal["structure", "offre"]
    line: int | None = Field(default=None, description="CSV line, the header being line 1")
    index: int | None = Field(default=None, description="position in the JSON array (from 0)")
    ref: str = Field(default="", description="name, title or source id, to find the item")
    status: Literal["imported", "existing", "rejected"]
    id: str | None = Field(default=None, description="Relais id (imported or existing)")
    reason: str | None = Field(default=None, description="why it was rejected (French)")
    notes: list[str] = Field(default_factory=list, description="what was dropped or assumed")


class ImportReport(BaseModel):
    network_id: str
    notes: list[str] = Field(default_factory=list, description="about the whole file")
    imported: int = 0
    existing: int = 0
    rejected: int = 0
    items: list[ItemReport] = Field(default_factory=list)

    def add(self, item: ItemReport) -> ItemReport:
        self.items.append(item)
        setattr(self, item.status, getattr(self, item.status) + 1)
        return item

    def finish(self) -> ImportReport:
        self.items.sort(key=lambda i: (i.line or 0, i.kind != "structure", i.index or 0))
        return self

    @property
    def http_status(self) -> int:
        """201 when something was imported, 422 when every item was rejected, else 200."""
        if self.imported:
            return 201
        return 422 if self.rejected and not self.existing else 200


@dataclass
class ImportContext:
    sessions: Sessions
    who: Principal
    emit: Emit
    clock: Clock
    network_id: str


def fold(text: str) -> str:
    """Compare names and codes as people type them: no accents, case or punctuation."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "_".join("".join(c if c.isalnum() else " " for c in plain).split())


async def check_can_import(session: AsyncSession, who: Principal, network_id: str) -> None:
    """Imports are for the network's operators and platform admins."""
    if await session.get(Network, network_id) is None:
        raise ApiError(404, "not_found", what="Réseau", id=network_id)
    if not (access.is_platform_admin(who) or access.operates(who, [network_id])):
        raise access.deny("seul·e un·e opérateur·rice du réseau importe des structures et offres")


def explain(exc: Exception) -> str:
    """A French reason a person can act on, from whatever a write raised."""
    if isinstance(exc, ApiError):
        message = translate(exc.code, "fr", **exc.params)
        if exc.code in ("geo.unknown_commune", "geo.unknown_territory") and exc.details:
            close = ", ".join(f"{d['name']} ({d['code']})" for d in exc.details)
            message += f" Communes proches : {close}."
        return message
    if isinstance(exc, ValidationError):
        return validation_reason(exc)
    ref = uuid.uuid4().hex[:12]
    log.exception("import write failed (%s)", ref)
    return f"erreur inattendue à l'enregistrement (référence {ref}) ; réessayez ou signalez-la"


_PYDANTIC_FR = {
    "string_too_short": "au moins {min_length} caractère(s)",
    "string_too_long": "au plus {max_length} caractères",
    "string_pattern_mismatch": "format invalide",
    "too_short": "au moins {min_length} valeur(s)",
    "missing": "obligatoire",
    "int_parsing": "nombre entier attendu",
    "greater_than_equal": "au moins {ge}",
    "less_than_equal": "au plus {le}",
    "url_parsing": "adresse web invalide (https://…)",
    "enum": "valeur inconnue ; valeurs possibles : {expected}",
    "literal_error": "valeur inconnue ; valeurs possibles : {expected}",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "string_type": "texte attendu",
    "list_type": "liste attendue",
    "set_type": "liste attendue",
}


def validation_reason(exc: ValidationError, names: dict[str, str] | None = None) -> str:
    """Pydantic errors in French, fields named as the person knows them (CSV columns)."""
    parts = []
    for error in exc.errors():
        field = next((str(p) for p in error["loc"] if isinstance(p, str)), "")
        label = (names or {}).get(field, field)
        template = _PYDANTIC_FR.get(error["type"])
        if template is not None:
            problem = template.format(**(error.get("ctx") or {}))[:300]
        elif "email" in error["msg"]:
            problem = "adresse électronique invalide"
        else:
            problem = error["msg"].removeprefix("Value error, ")
        parts.append(f"{label} : {problem}" if label else problem)
    return " ; ".join(dict.fromkeys(parts))


async def write_member(ctx: ImportContext, data: MemberCreate) -> str:
    async with ctx.sessions() as session:
        member, _api_key = await register_member(
            session, data, who=ctx.who, emit=ctx.emit, clock=ctx.clock
        )  # the key is not returned by imports: members ask for theirs (POST /v1/api-keys)
        return member.id


async def write_offer(ctx: ImportContext, data: OfferCreate) -> str:
    async with ctx.sessions() as session:
        offer = await publish_offer(session, data, who=ctx.who, emit=ctx.emit, clock=ctx.clock)
        return offer.id


class MemberIndex:
    """Members already in the directory, found by SIRET, name (in the network) or id."""

    def __init__(self, network_id: str) -> None:
        self.network_id = network_id
        self.by_siret: dict[str, Member] = {}
        self.by_name: dict[str, list[Member]] = {}
        self.elsewhere: dict[str, Member] = {}  # SIRET -> member of other networks only
        self.ids: dict[str, Member] = {}
        self.titles: dict[str, dict[str, str]] = {}  # member id -> folded title -> offer id

    @classmethod
    async def load(cls, session: AsyncSession, network_id: str, sirets: set[str]) -> MemberIndex:
        index = cls(network_id)
        members = await session.exec(
            select(Member).join(Membership).where(Membership.network_id == network_id)
        )
        for member in members.all():
            index.ids[member.id] = member
            if member.siret:
                index.by_siret[member.siret] = member
            index.by_name.setdefault(fold(member.name), []).append(member)
        others = await session.exec(select(Member).where(col(Member.siret).in_(sorted(sirets))))
        for member in others.all():
            if member.id not in index.ids and member.siret:
                index.elsewhere[member.siret] = member
        offers = await session.exec(
            select(Offer.member_id, Offer.title, Offer.id).where(
                col(Offer.member_id).in_(list(index.ids)), Offer.status == "published"
            )
        )
        for member_id, title, offer_id in offers.all():
            index.titles.setdefault(member_id, {})[fold(title)] = offer_id
        return index

    def other_network_reason(self, siret: str) -> str | None:
        member = self.elsewhere.get(siret)
        if member is None:
            return None
        return (
            f"la structure de SIRET {siret} existe déjà dans un autre réseau ({member.id}) : "
            f"demandez à un·e administrateur·rice de l'ajouter au réseau {self.network_id}"
        )

    def existing(self, siret: str | None, name: str) -> Member | None:
        if siret:
            return self.by_siret.get(siret)
        same = self.by_name.get(fold(name), [])
        return same[0] if len(same) == 1 else None

    def find(self, ref: str) -> tuple[Member | None, str | None]:
        """A member of the network by SIRET, id or name; else (None, why not)."""
        digits = ref.replace(" ", "")
        if digits.isdigit() and len(digits) == 14:
            found = self.by_siret.get(digits)
            return found, None if found else f"aucune structure de SIRET {digits} dans le réseau"
        if ref in self.ids:
            return self.ids[ref], None
        same = self.by_name.get(fold(ref), [])
        if len(same) > 1:
            return None, f"plusieurs structures s'appellent « {ref} » : indiquez leur SIRET"
        if same:
            return same[0], None
        return None, f"structure « {ref} » introuvable dans ce fichier et dans le réseau"

    def offer_titled(self, member_id: str, title: str) -> str | None:
        """The id of this member's published offer of that title, if any."""
        return self.titles.get(member_id, {}).get(fold(title))
