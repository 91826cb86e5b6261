"""Import an operator's CSV of structures and offers into a network (columns: csv_format).

Every row is validated first (codes, communes, territories, references between rows); then
the good rows are written — structures, then offers — each through the directory's use
case in its own transaction. The report lists every row: imported, existing (already in the
network: same SIRET, or same name without SIRET; an offer of the same title for that
structure) or rejected, with its line number and a French reason a person can act on.

An offer names its structure by SIRET or name: a structure row of the same file (wherever
it is) or a member already in the network. An offer whose structure row is rejected is
rejected too, saying which line to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from services.directory.interchange import csv_format as f
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
from services.directory.models import MemberCreate, OfferCreate
from services.kit.errors import ApiError

FIELD_COLUMNS = {
    "name": "nom",
    "address": "adresse",
    "contact_email": "courriel",
    "contact_phone": "telephone",
    "website": "site_web",
    "title": "titre",
    "description": "description",
    "url": "lien",
    "stages": "stades",
    "territories": "territoires",
    "max_structure_age_months": "age_max_mois",
}
PENDING = "pending"


@dataclass
class Planned:
    item: ItemReport
    data: MemberCreate | OfferCreate | None = None
    owner: Planned | None = None  # an offer's structure row in this file


def _structure(row: dict[str, str], errors: list[str], notes: list[str]) -> dict[str, Any]:
    if not row.get("nom"):
        errors.append("nom : obligatoire pour une structure")
    fields: dict[str, Any] = {
        "name": row.get("nom", ""),
        "siret": f.siret(row.get("siret", ""), errors),
        "address": row.get("adresse") or None,
        "commune": f.commune(row["commune"], errors, notes) if row.get("commune") else None,
        "contact_email": row.get("courriel") or None,
        "contact_phone": row.get("telephone") or None,
        "website": row.get("site_web") or None,
        "schemes": f.codes("dispositifs", row.get("dispositifs", ""), errors),
        "national_networks": f.split(row.get("reseaux_nationaux", "")),
    }
    if row.get("cercle"):
        fields["circle"] = next(iter(f.codes("cercle", row["cercle"], errors)), None)
    return fields


def _offer(row: dict[str, str], errors: list[str]) -> dict[str, Any]:
    for column in ("structure", "titre", "type_offre", "stades", "territoires"):
        if not row.get(column):
            errors.append(f"{column} : obligatoire pour une offre")
    kinds = f.codes("type_offre", row.get("type_offre", ""), errors)
    if len(kinds) > 1:
        errors.append("type_offre : une seule valeur par offre")
    fields: dict[str, Any] = {
        "title": row.get("titre", ""),
        "description": row.get("description", ""),
        "kind": kinds[0] if kinds else "accompagnement",
        "stages": f.codes("stades", row.get("stades", ""), errors),
        "themes": f.codes("themes", row.get("themes", ""), errors),
        "territories": f.territories(row.get("territoires", ""), errors),
        "project_types": f.codes("public", row.get("public", ""), errors),
        "legal_forms": f.codes("formes_juridiques", row.get("formes_juridiques", ""), errors),
        "max_structure_age_months": f.integer(row.get("age_max_mois", ""), "age_max_mois", errors),
        "employer": f.yes_no(row.get("employeur", ""), "employeur", errors),
        "required_information": f.codes("infos_requises", row.get("infos_requises", ""), errors),
        "url": row.get("lien") or None,
        "contact_email": row.get("courriel") or None,
    }
    for column, name in (("cout", "cost"), ("capacite", "capacity")):
        if row.get(column):
            found = f.codes(column, row[column], errors)
            if found:
                fields[name] = found[0]
    if row.get("modes_accueil"):
        fields["modes_accueil"] = f.codes("modes_accueil", row["modes_accueil"], errors)
    return fields


def _validate(
    model: type[MemberCreate] | type[OfferCreate], fields: dict[str, Any], errors: list[str]
) -> MemberCreate | OfferCreate | None:
    if errors:
        return None
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors.append(validation_reason(exc, FIELD_COLUMNS))
        return None


async def import_csv(
    ctx: ImportContext, text: str, progress: Progress | None = None
) -> ImportReport:
    """Validate every row, then write the good ones; ApiError(422) for an unreadable file."""
    try:
        rows, notes = f.read_rows(text)
    except f.CsvFileError as exc:
        raise ApiError(422, "validation", summary=str(exc)) from None
    if not rows:
        raise ApiError(422, "validation", summary="aucune ligne de données après les en-têtes")
    report = ImportReport(network_id=ctx.network_id, notes=notes)
    sirets = {s for _, row, _ in rows if (s := re.sub(r"[\s.]", "", row.get("siret", "")))}
    async with ctx.sessions() as session:
        index = await MemberIndex.load(session, ctx.network_id, sirets)
    in_file: dict[str, Planned] = {}  # "siret:…" / "nom:…" -> its structure row
    members: list[Planned] = []
    offer_rows = []
    for line, row, problem in rows:
        kind = f.ROW_TYPES.get(fold(row.get("type", "")))
        if kind == "offre":
            offer_rows.append((line, row, problem))
            continue
        item = ItemReport(kind="structure", line=line, ref=row.get("nom", ""), status="rejected")
        if kind is None:
            item.reason = f"type « {row.get('type', '')} » : écrivez structure ou offre"
            report.add(item)
            continue
        planned = _plan_structure(ctx, item, row, problem, in_file, index)
        if planned.item.reason or planned.item.status == "existing":
            report.add(planned.item)
        else:
            members.append(planned)
    offers: list[Planned] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row, problem in offer_rows:
        planned = _plan_offer(line, row, problem, in_file, index, seen)
        if planned.item.reason or planned.item.status == "existing":
            report.add(planned.item)
        else:
            offers.append(planned)
    await _write(ctx, report, members, offers, progress)
    return report.finish()


def _plan_structure(
    ctx: ImportContext,
    item: ItemReport,
    row: dict[str, str],
    problem: str | None,
    in_file: dict[str, Planned],
    index: MemberIndex,
) -> Planned:
    errors = [problem] if problem else []
    fields = _structure(row, errors, item.notes)
    data = _validate(MemberCreate, {**fields, "network_ids": [ctx.network_id]}, errors)
    keys = [f"nom:{fold(fields['name'])}"]
    if fields["siret"]:
        keys.insert(0, f"siret:{fields['siret']}")
    twin = next((in_file[k] for k in keys if k in in_file), None)
    existing = index.existing(fields["siret"], fields["name"])
    if errors:
        item.reason = " ; ".join(dict.fromkeys(errors))
    elif twin is not None:
        item.reason = f"doublon de la ligne {twin.item.line} (même SIRET ou même nom)"
    elif existing is not None:
        item.status, item.id = "existing", existing.id
    elif fields["siret"] and (why := index.other_network_reason(fields["siret"])):
        item.reason = why
    planned = Planned(item, data)
    for key in keys:
        in_file.setdefault(key, planned)
    return planned


def _plan_offer(
    line: int,
    row: dict[str, str],
    problem: str | None,
    in_file: dict[str, Planned],
    index: MemberIndex,
    seen: dict[tuple[str, str], int],
) -> Planned:
    item = ItemReport(kind="offre", line=line, ref=row.get("titre", ""), status="rejected")
    errors = [problem] if problem else []
    fields = _offer(row, errors)
    ref = row.get("structure", "")
    owner = None
    if ref:
        digits = re.sub(r"[\s.]", "", ref)
        owner = in_file.get(f"siret:{digits}") or in_file.get(f"nom:{fold(ref)}")
    member_id: str | None = None
    if owner is not None:
        if owner.item.reason:
            errors.append(f"sa structure (ligne {owner.item.line}) est rejetée : corrigez-la")
        member_id = owner.item.id  # None until the structure is written
    elif ref:
        found, why = index.find(ref)
        if found is None:
            errors.append(f"structure : {why}")
        else:
            member_id = found.id
    data = _validate(OfferCreate, {**fields, "member_id": member_id or PENDING}, errors)
    key = (member_id or f"ligne {owner.item.line if owner else 0}", fold(fields["title"]))
    if errors:
        item.reason = " ; ".join(dict.fromkeys(errors))
    elif key in seen:
        item.reason = f"doublon de la ligne {seen[key]} (même structure, même titre)"
    elif member_id is not None and (same := index.offer_titled(member_id, fields["title"])):
        item.status, item.id = "existing", same
    seen.setdefault(key, line)
    return Planned(item, data, owner)


async def _write(
    ctx: ImportContext,
    report: ImportReport,
    members: list[Planned],
    offers: list[Planned],
    progress: Progress | None,
) -> None:
    total, done = len(members) + len(offers), 0
    if progress:
        progress(0, total)
    for planned in [*members, *offers]:
        item, data = planned.item, planned.data
        try:
            if isinstance(data, MemberCreate):
                item.id = await write_member(ctx, data)
                item.status = "imported"
            elif isinstance(data, OfferCreate):
                owner = planned.owner
                if owner is not None and owner.item.status != "existing" and not owner.item.id:
                    item.reason = (
                        f"sa structure (ligne {owner.item.line}) n'a pas pu être enregistrée"
                    )
                else:
                    member_id = owner.item.id if owner is not None else data.member_id
                    offer = data.model_copy(update={"member_id": member_id})
                    item.id, item.status = await write_offer(ctx, offer), "imported"
        except Exception as exc:
            item.reason = explain(exc)
        report.add(item)
        done += 1
        if progress:
            progress(done, total)
