"""Import data·inclusion v1 JSON (arrays of structures and services) into a network.

Each item is validated with the official package first, then mapped back (see
`data_inclusion` for the vocabulary choices, read in reverse):

* stages come from the `creer-une-entreprise--*` thématiques (every stage that maps to one:
  "structurer son projet" gives faisabilité and création); a service with none is rejected,
  since it says nothing of the project stage it serves;
* themes come from the thématiques that have a Relais equivalent; the others (and codes
  data·inclusion itself does not know, which would fail validation) are dropped and listed
  in the item's notes;
* `zone_eligibilite`: `france` / `99100` -> national; 5 characters -> commune, 9 digits ->
  EPCI, 2-3 -> département; all the départements of a région -> that région; unknown codes
  are dropped (noted); a service with no known zone is rejected;
* a structure already in the network (same SIRET, or same name when there is no SIRET, or
  its own `relais--<id>`) is "existing" and not created twice; one whose SIRET belongs to
  another network only is rejected (an administrator adds it to the network);
* a service is "existing" when its structure already has a published offer of that title.

Members are written first, then offers, each through the use case in its own transaction.
"""

from __future__ import annotations

from typing import Any

from data_inclusion.schema.v1 import Service, Structure, Thematique
from pydantic import BaseModel, Field, ValidationError

from services.directory import vocabulary as v
from services.directory.geo import load
from services.directory.interchange.data_inclusion import (
    MODE_TO_DI,
    SCHEME_TO_RESEAU,
    SOURCE,
    TYPE_TO_KIND,
)
from services.directory.interchange.report import (
    ImportContext,
    ImportReport,
    ItemReport,
    MemberIndex,
    Progress,
    explain,
    fold,
    validation_reason,
    write_member,
    write_offer,
)
from services.directory.interchange.zones import territories_from_zone
from services.directory.models import MemberCreate, OfferCreate

DI_TO_STAGES: dict[str, list[str]] = {}
for _stage, _code in v.STAGE_TO_DATA_INCLUSION.items():
    DI_TO_STAGES.setdefault(_code, []).append(_stage)
DI_TO_THEMES: dict[str, list[str]] = {}
for _theme, _codes in v.THEME_TO_DATA_INCLUSION.items():
    for _code in _codes:
        DI_TO_THEMES.setdefault(_code, []).append(_theme)
RESEAU_TO_SCHEME = {reseau: scheme for scheme, reseau in SCHEME_TO_RESEAU.items()}
DI_TO_MODE = {di: mode for mode, di in MODE_TO_DI.items()}
PENDING = "pending"
THEMATIQUES = frozenset(t.value for t in Thematique)


class DataInclusionImport(BaseModel):
    network_id: str = Field(description="the network the structures join")
    structures: list[dict[str, Any]] = Field(default_factory=list, max_length=5000)
    services: list[dict[str, Any]] = Field(default_factory=list, max_length=20000)


def member_fields(item: Structure, network_id: str) -> tuple[dict[str, Any], list[str]]:
    geo, notes = load(), []
    commune = None
    if item.code_insee:
        if geo.commune(item.code_insee):
            commune = item.code_insee.upper()
        else:
            notes.append(f"code commune {item.code_insee} inconnu : commune non renseignée")
    elif item.code_postal and item.commune:
        same = [
            c
            for c in geo.by_postcode.get(item.code_postal, [])
            if fold(geo.communes[c].name) == fold(item.commune)
        ]
        commune = same[0] if len(same) == 1 else None
    address = ", ".join(p for p in (item.adresse, item.complement_adresse) if p) or None
    website = str(item.site_web) if item.site_web else None
    if website and len(website) > 300:
        website = None
        notes.append("site web trop long (300 caractères au plus) : ignoré")
    phone = item.telephone
    if phone and len(phone) > 30:
        phone = None
        notes.append("téléphone trop long (30 caractères au plus) : ignoré")
    reseaux = sorted(r.value for r in item.reseaux_porteurs or ())
    return {
        "name": item.nom,
        "siret": item.siret,
        "address": address[:300] if address else None,
        "commune": commune,
        "contact_email": item.courriel,
        "contact_phone": phone,
        "website": website,
        "network_ids": [network_id],
        "schemes": sorted({RESEAU_TO_SCHEME[r] for r in reseaux if r in RESEAU_TO_SCHEME}),
        "national_networks": reseaux,
    }, notes


def known_thematiques(raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The item without the thématiques the package does not know (it would refuse it)."""
    codes = raw.get("thematiques")
    if not isinstance(codes, list):
        return raw, ""
    unknown = [str(c) for c in codes if c not in THEMATIQUES]
    return {**raw, "thematiques": [c for c in codes if c in THEMATIQUES]}, ", ".join(unknown)


def offer_fields(item: Service) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """(OfferCreate fields without member_id, notes, reason to reject)."""
    codes = sorted(t.value for t in item.thematiques or ())
    stages = [s for c in codes for s in DI_TO_STAGES.get(c, [])]
    themes = [t for c in codes for t in DI_TO_THEMES.get(c, [])]
    notes = []
    if dropped := [c for c in codes if c not in DI_TO_STAGES and c not in DI_TO_THEMES]:
        notes.append(f"thématiques sans équivalent Relais, ignorées : {', '.join(dropped)}")
    if not stages:
        return (
            None,
            notes,
            (
                "aucune thématique « creer-une-entreprise--… » : le stade du projet ne peut pas "
                "être déduit ; ajoutez-en une"
            ),
        )
    territories, unknown = territories_from_zone(list(item.zone_eligibilite or []))
    if unknown:
        notes.append(f"codes de zone inconnus, ignorés : {', '.join(unknown)}")
    if not territories:
        return None, notes, "zone_eligibilite absente ou sans code connu (communes, EPCI, …)"
    kind = TYPE_TO_KIND.get(item.type.value) if item.type else None
    if kind is None:
        notes.append("type absent : accompagnement retenu")
    description = item.description
    if len(description) > 5000:
        description = description[:4999] + "…"
        notes.append("description tronquée à 5000 caractères")
    link = item.lien_mobilisation or item.lien_source
    modes = [DI_TO_MODE[m.value] for m in item.modes_accueil or () if m.value in DI_TO_MODE]
    fields: dict[str, Any] = {
        "title": item.nom,
        "description": description,
        "kind": kind or "accompagnement",
        "stages": [s for s in v.STAGES if s in stages],
        "themes": [t for t in v.THEMES if t in themes],
        "cost": item.frais.value if item.frais else "sur_conditions",
        "url": str(link) if link and len(str(link)) <= 300 else None,
        "contact_email": item.courriel,
        "territories": territories,
    }
    if modes:
        fields["modes_accueil"] = sorted(modes)
    return fields, notes, None


async def import_data_inclusion(
    ctx: ImportContext, payload: DataInclusionImport, progress: Progress | None = None
) -> ImportReport:
    report = ImportReport(network_id=ctx.network_id)
    sirets = {str(s.get("siret")) for s in payload.structures if s.get("siret")}
    async with ctx.sessions() as session:
        index = await MemberIndex.load(session, ctx.network_id, sirets)
    members: dict[str, str] = {}  # data·inclusion structure id -> Relais member id (or PENDING)
    to_create: list[tuple[ItemReport, str, MemberCreate]] = []
    for i, raw in enumerate(payload.structures):
        item = ItemReport(
            kind="structure", index=i, ref=str(raw.get("id") or raw.get("nom")), status="rejected"
        )
        try:
            structure = Structure.model_validate(raw)
        except ValidationError as exc:
            report.add(item.model_copy(update={"reason": validation_reason(exc)}))
            continue
        own = structure.id.removeprefix(f"{SOURCE}--")
        existing = index.ids.get(own) or index.existing(structure.siret, structure.nom)
        if structure.id in members:
            item.reason = f"id {structure.id} en double dans le tableau structures"
        elif existing is not None:
            item.status, item.id = "existing", existing.id
            members[structure.id] = existing.id
        elif structure.siret and (why := index.other_network_reason(structure.siret)):
            item.reason = why
        else:
            fields, item.notes = member_fields(structure, ctx.network_id)
            try:
                to_create.append((item, structure.id, MemberCreate.model_validate(fields)))
                members[structure.id] = PENDING
                continue
            except ValidationError as exc:
                item.reason = validation_reason(exc)
        report.add(item)
    offers: list[tuple[ItemReport, str, OfferCreate]] = []
    seen: set[str] = set()
    for i, raw in enumerate(payload.services):
        item = ItemReport(
            kind="offre", index=i, ref=str(raw.get("id") or raw.get("nom")), status="rejected"
        )
        cleaned, unknown = known_thematiques(raw)
        try:
            service = Service.model_validate(cleaned)
        except ValidationError as exc:
            report.add(item.model_copy(update={"reason": validation_reason(exc)}))
            continue
        owner = members.get(service.structure_id)
        if owner is None and (own := service.structure_id.removeprefix(f"{SOURCE}--")) in index.ids:
            owner = own
        mapped, item.notes, reason = offer_fields(service)
        if unknown:
            item.notes.insert(0, f"thématiques inconnues de data·inclusion, ignorées : {unknown}")
        if service.id in seen:
            item.reason = f"id {service.id} en double dans le tableau services"
        elif owner is None:
            item.reason = (
                f"structure_id {service.structure_id} inconnu : ajoutez la structure au tableau "
                "structures, ou importez-la d'abord"
            )
        elif reason is not None or mapped is None:
            item.reason = reason
        elif owner != PENDING and (same := index.offer_titled(owner, service.nom)):
            item.status, item.id = "existing", same
        else:
            try:
                offer = OfferCreate.model_validate({**mapped, "member_id": owner})
                offers.append((item, service.structure_id, offer))
                seen.add(service.id)
                continue
            except ValidationError as exc:
                item.reason = validation_reason(exc)
        seen.add(service.id)
        report.add(item)
    await _write(ctx, report, to_create, offers, members, progress)
    return report.finish()


async def _write(
    ctx: ImportContext,
    report: ImportReport,
    to_create: list[tuple[ItemReport, str, MemberCreate]],
    offers: list[tuple[ItemReport, str, OfferCreate]],
    members: dict[str, str],
    progress: Progress | None,
) -> None:
    total = len(to_create) + len(offers)
    if progress:
        progress(0, total)
    for done, (item, structure_id, member) in enumerate(to_create, 1):
        try:
            item.id, item.status = await write_member(ctx, member), "imported"
            members[structure_id] = item.id
        except Exception as exc:
            item.reason = explain(exc)
        report.add(item)
        if progress:
            progress(done, total)
    for done, (item, structure_id, offer) in enumerate(offers, len(to_create) + 1):
        owner = members.get(structure_id, offer.member_id)
        if owner == PENDING:
            item.reason = f"la structure {structure_id} n'a pas pu être importée"
        else:
            try:
                ready = offer.model_copy(update={"member_id": owner})
                item.id, item.status = await write_offer(ctx, ready), "imported"
            except Exception as exc:
                item.reason = explain(exc)
        report.add(item)
        if progress:
            progress(done, total)
