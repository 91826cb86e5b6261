"""The operator's CSV: columns, how cells are read, and an example file.

One file holds structures and offers, one per line, told apart by the `type` column.
Separator: comma, semicolon or tab (found from the header line); UTF-8 (with or without
BOM) or Windows-1252, as spreadsheets save it. Lists inside a cell are separated by `;`
(or `|`); quote such cells when the file itself is separated by `;` (spreadsheets do).
Codes are accepted as codes (`idee`) or as their French labels (`Idée`), in any case,
with or without accents. Line numbers count the header as line 1.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache

from contracts.base import Territory, TerritoryLevel
from services.directory import vocabulary as v
from services.directory.geo import load
from services.directory.interchange.report import fold

COLUMNS: dict[str, str] = {
    "type": "structure ou offre (obligatoire)",
    # structures
    "nom": "structure : nom (obligatoire)",
    "siret": "structure : SIRET, 14 chiffres (recommandé : évite les doublons)",
    "adresse": "structure : adresse postale",
    "commune": "structure : code INSEE de la commune (ou code postal, ou nom exact)",
    "telephone": "structure : téléphone",
    "site_web": "structure : site web",
    "cercle": "structure : premier ou second (défaut : premier)",
    "dispositifs": "structure : starter_ess;dla;incubateur;fabrique_initiatives;france_active;…",
    "reseaux_nationaux": "structure : réseaux nationaux d'appartenance",
    # offers
    "structure": "offre : SIRET ou nom d'une structure du fichier ou du réseau (obligatoire)",
    "titre": "offre : titre, 3 à 150 caractères (obligatoire)",
    "description": "offre : description",
    "type_offre": "offre : accompagnement, financement, formation, information, "
    "hebergement_incubation ou mise_en_reseau (obligatoire)",
    "stades": "offre : idee;faisabilite;creation;developpement;consolidation;"
    "difficulte_rebond (obligatoire)",
    "themes": "offre : ruralite;culture;alimentation;iae;…",
    "territoires": "offre : departement:80;commune:80021;epci:200070993;region:32;national "
    "(obligatoire)",
    "public": "offre : individuel;collectif (vide : les deux)",
    "formes_juridiques": "offre : association;scop;scic;… (vide : toutes)",
    "age_max_mois": "offre : âge maximal de la structure, en mois",
    "employeur": "offre : oui (employeurs seulement), non (non-employeurs), vide (tous)",
    "cout": "offre : gratuit, payant ou sur_conditions (défaut : gratuit)",
    "modes_accueil": "offre : presentiel;distance (défaut : presentiel)",
    "capacite": "offre : ouvert, liste_attente ou complet (défaut : ouvert)",
    "infos_requises": "offre : informations qu'une orientation doit porter",
    "lien": "offre : lien web",
    "courriel": "structure ou offre : adresse électronique de contact",
}
HEADER_ALIASES = {
    "type_de_ligne": "type",
    "raison_sociale": "nom",
    "code_insee": "commune",
    "tel": "telephone",
    "site": "site_web",
    "site_internet": "site_web",
    "email": "courriel",
    "e_mail": "courriel",
    "mail": "courriel",
    "type_d_offre": "type_offre",
    "stade": "stades",
    "theme": "themes",
    "thematiques": "themes",
    "territoire": "territoires",
    "publics": "public",
    "age_maximal_mois": "age_max_mois",
    "capacite_d_accueil": "capacite",
    "url": "lien",
}
ROW_TYPES = {"structure": "structure", "membre": "structure", "offre": "offre", "offer": "offre"}
EXAMPLE = """type,nom,siret,commune,courriel,dispositifs,structure,titre,type_offre,stades,themes,territoires,public,cout
structure,Coopérative Exemple,12345678900011,80021,contact@exemple.fr,cae;starter_ess,,,,,,,,
offre,,,,,,12345678900011,Accompagnement à la création,accompagnement,idee;creation,alimentation,departement:80,collectif,gratuit
"""  # noqa: E501


def _table(vocabulary: v.Labels, aliases: dict[str, str] | None = None) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, (fr, en) in vocabulary.items():
        for name in (code, fr, en):
            table.setdefault(fold(name), code)
    return {**table, **(aliases or {})}


VOCABULARIES: dict[str, v.Labels] = {
    "type_offre": v.OFFER_KINDS,
    "stades": v.STAGES,
    "themes": v.THEMES,
    "public": v.PROJECT_TYPES,
    "formes_juridiques": v.LEGAL_FORMS,
    "cout": v.COSTS,
    "modes_accueil": v.MODES_ACCUEIL,
    "capacite": v.CAPACITIES,
    "infos_requises": v.REQUIRED_INFORMATION,
    "cercle": v.CIRCLES,
    "dispositifs": v.SCHEMES,
}
CELL_ALIASES = {  # folded words people write -> code (on top of codes and labels)
    "type_offre": {"hebergement": "hebergement_incubation", "incubation": "hebergement_incubation"},
    "stades": {"difficulte": "difficulte_rebond", "rebond": "difficulte_rebond"},
    "public": {"individuel": "individual", "collectif": "collective"},
    "modes_accueil": {"presentiel": "en_presentiel", "distance": "a_distance"},
    "capacite": {"ouvert": "open", "liste_attente": "waitlist", "attente": "waitlist"},
    "cercle": {
        "premier": "premier_cercle",
        "1": "premier_cercle",
        "second": "second_cercle",
        "2": "second_cercle",
    },
    "dispositifs": {"fabrique_a_initiatives": "fabrique_initiatives", "piva": "piva_plus"},
}
TABLES = {
    column: _table(vocabulary, CELL_ALIASES.get(column))
    for column, vocabulary in VOCABULARIES.items()
}
LEVELS = {
    "commune": TerritoryLevel.commune,
    "epci": TerritoryLevel.epci,
    "departement": TerritoryLevel.departement,
    "dept": TerritoryLevel.departement,
    "dep": TerritoryLevel.departement,
    "region": TerritoryLevel.region,
    "national": TerritoryLevel.national,
    "france": TerritoryLevel.national,
}


class CsvFileError(ValueError):
    """The file as a whole cannot be read (no header, no `type` column...)."""


def split(cell: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;|\n]", cell) if part.strip()]


def read_rows(text: str) -> tuple[list[tuple[int, dict[str, str], str | None]], list[str]]:
    """[(line, {column: cell}, problem)], and notes about the header."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError("le fichier est vide") from None
    columns = [HEADER_ALIASES.get(fold(h), fold(h)) for h in header]
    notes = [
        f"colonne « {h} » inconnue, ignorée"
        for h, c in zip(header, columns, strict=True)
        if c and c not in COLUMNS
    ]
    if "type" not in columns:
        raise CsvFileError(
            "colonne « type » absente de la première ligne (en-têtes) : chaque ligne dit si "
            "elle décrit une structure ou une offre"
        )
    rows = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvFileError(f"ligne {line} illisible ({exc})") from None
        if not any(c.strip() for c in cells):
            continue
        problem = None
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            problem = (
                f"{len(cells)} cellules pour {len(columns)} colonnes : mettez entre guillemets "
                f"les cellules qui contiennent le séparateur « {delimiter} »"
            )
        row = {c: cell.strip() for c, cell in zip(columns, cells, strict=False) if c in COLUMNS}
        rows.append((line, row, problem))
    return rows, notes


def codes(column: str, cell: str, errors: list[str]) -> list[str]:
    table, vocabulary = TABLES[column], VOCABULARIES[column]
    found = []
    for part in split(cell):
        code = table.get(fold(part))
        if code is None:
            errors.append(
                f"{column} : « {part} » inconnu ; valeurs possibles : {', '.join(vocabulary)}"
            )
        else:
            found.append(code)
    return list(dict.fromkeys(found))


@cache
def _names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for commune in load().communes.values():
        names.setdefault(fold(commune.name), []).append(commune.code)
    return names


def _closest(value: str) -> str:
    close = ", ".join(f"{c.name} ({c.code})" for c in load().suggest(value))
    return f" ; communes proches : {close}" if close else ""


def commune(cell: str, errors: list[str], notes: list[str]) -> str | None:
    """An INSEE code from a code, a postcode with one commune, or an exact name."""
    geo, value = load(), cell.strip()
    if geo.commune(value) is not None:
        return value.upper()
    candidates = geo.by_postcode.get(value) or _names().get(fold(value), [])
    if len(candidates) == 1:
        found = geo.communes[candidates[0]]
        notes.append(f"commune « {value} » lue comme {found.name} ({found.code})")
        return found.code
    if candidates:
        listed = ", ".join(f"{geo.communes[c].name} ({c})" for c in candidates[:8])
        errors.append(f"commune « {value} » ambiguë : indiquez le code INSEE parmi {listed}")
    else:
        errors.append(f"commune « {value} » inconnue (code INSEE attendu){_closest(value)}")
    return None


def territories(cell: str, errors: list[str]) -> list[Territory]:
    geo, found = load(), []
    for part in split(cell):
        level_text, _, code = part.partition(":")
        level = LEVELS.get(fold(level_text))
        code = code.strip().upper()
        if level is None or (level != TerritoryLevel.national and not code):
            errors.append(
                f"territoire « {part} » : écrivez niveau:code, par exemple departement:80, "
                "commune:80021, epci:200070993, region:32 ou national"
            )
            continue
        if level in (TerritoryLevel.departement, TerritoryLevel.region) and len(code) == 1:
            code = f"0{code}"
        known = {
            TerritoryLevel.commune: geo.commune(code) is not None,
            TerritoryLevel.epci: code in geo.epcis,
            TerritoryLevel.departement: code in geo.departements,
            TerritoryLevel.region: code in geo.regions,
            TerritoryLevel.national: True,
        }[level]
        if not known:
            hint = _closest(code) if level == TerritoryLevel.commune else ""
            errors.append(f"territoire « {part} » : {level.value} {code} inconnu{hint}")
            continue
        found.append(Territory(level=level, code="FR" if level == "national" else code))
    return list(dict.fromkeys(found))


def siret(cell: str, errors: list[str]) -> str | None:
    digits = re.sub(r"[\s.]", "", cell)
    if not digits:
        return None
    if not (digits.isdigit() and len(digits) == 14):
        errors.append(f"siret « {cell} » : 14 chiffres attendus")
        return None
    return digits


def yes_no(cell: str, column: str, errors: list[str]) -> bool | None:
    value = fold(cell)
    if not value:
        return None
    if value in ("oui", "o", "yes", "vrai", "true", "1"):
        return True
    if value in ("non", "n", "no", "faux", "false", "0"):
        return False
    errors.append(f"{column} : « {cell} » ; écrivez oui, non ou laissez vide")
    return None


def integer(cell: str, column: str, errors: list[str]) -> int | None:
    if not cell:
        return None
    try:
        return int(cell.replace(" ", ""))
    except ValueError:
        errors.append(f"{column} : « {cell} » n'est pas un nombre entier")
        return None
