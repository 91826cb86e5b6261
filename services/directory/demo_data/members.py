"""The demo networks and their member structures (all fictional, in real communes)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.directory.demo_data.model import DemoMember, DemoNetwork
from services.directory.demo_data.places import geography

# A reserved TLD (RFC 2606): these addresses never deliver. Not `.invalid`: the directory's
# e-mail check refuses it, and admits `.test` (the domain its own tests use).
EMAIL_DOMAIN = "demo.relais.test"
TREMPLIN = "tremplin-demo"
ESSOR = "essor-demo"


def email(local: str) -> str:
    return f"{local}@{EMAIL_DOMAIN}"


NETWORKS = (
    DemoNetwork(
        id=TREMPLIN,
        name="Tremplin Démo — réseau fictif d'accompagnement ESS des Hauts-de-France",
        region="32",
        operator_emails=(email("operateur.tremplin"),),
    ),
    DemoNetwork(
        id=ESSOR,
        name="Essor Démo — réseau fictif d'accompagnement ESS des Pays de la Loire",
        region="52",
        operator_emails=(email("operateur.essor"),),
    ),
)


@dataclass(frozen=True)
class Spec:
    """A member as written below; `profile` picks its offers (see offers.TEMPLATES)."""

    slug: str
    name: str
    area: str  # a short place label for offer titles
    commune: str  # INSEE code of a real commune
    profile: str
    schemes: tuple[str, ...] = ()
    circle: str = "premier_cercle"
    national: tuple[str, ...] = ()
    networks: tuple[str, ...] = (TREMPLIN,)
    themes: tuple[str, ...] = ()  # themes this structure works on most
    local: bool = False  # its "département-wide" offers cover its EPCI only
    offers: int | None = None  # keep only its first n offers (the small network)


FIRST, SECOND = "premier_cercle", "second_cercle"
STARTER = ("starter_ess",)
DLA = ("dla",)
INCUB = ("incubateur",)
FABRIQUE = ("fabrique_initiatives",)
CAE = ("cae",)
PIVA = ("piva_plus",)
FUND = ("france_active",)

# The first two must stay active members of tremplin-demo: the dev stack's end-to-end test
# has members[0] send a referral to members[1].
SPECS: tuple[Spec, ...] = (
    # --- the e2e pair: Amiens (80) sends, Lille (59) receives ---------------------------
    Spec("starter-somme", "Coopérative Démo Starter ESS Somme", "Somme", "80021", "starter",
         STARTER, national=("Avise",), themes=("alimentation", "culture", "cooperation")),
    Spec("incubateur-lille", "Incubateur Démo Lille Métropole", "Métropole lilloise", "59350",
         "incubateur", INCUB, themes=("numerique", "economie_circulaire", "sante")),
    # --- Somme (80) ---------------------------------------------------------------------
    Spec("dla-somme", "DLA Démo Somme", "Somme", "80021", "dla", DLA,
         national=("Réseau DLA",), themes=("sport_loisirs", "culture", "services_a_la_personne")),
    Spec("incubateur-amiens", "Incubateur Démo Picardie Solidaire", "Amiens Métropole", "80021",
         "incubateur", INCUB, local=True, themes=("transition_ecologique", "alimentation")),
    Spec("fabrique-abbeville", "Fabrique à initiatives Démo Baie de Somme", "Baie de Somme",
         "80001", "fabrique", FABRIQUE, national=("Avise",),
         themes=("tourisme_solidaire", "ruralite", "mobilite")),
    Spec("cae-amiens", "CAE Démo Somme Coopérative", "Somme", "80021", "cae", CAE,
         national=("Coopérer pour entreprendre",), themes=("cooperation", "culture")),
    Spec("piva-montdidier", "Point PIVA+ Démo Santerre", "Santerre", "80561", "piva", PIVA,
         themes=("ruralite", "mobilite", "alimentation")),
    Spec("tierslieu-peronne", "Tiers-lieu Démo de Haute-Somme", "Haute-Somme", "80620",
         "tierslieu", circle=SECOND, national=("France Tiers-Lieux",),
         themes=("ruralite", "numerique")),
    Spec("initiative-somme", "Plateforme Démo Initiative Somme", "Somme", "80016", "initiative",
         circle=SECOND, national=("Initiative France",), themes=("commerce_equitable",)),
    Spec("fonds-picardie", "Fonds Démo Solidaire Picardie", "Picardie", "80021", "fonds_picardie",
         FUND, national=("France Active",), themes=("finance_solidaire", "iae")),
    # --- Nord (59) ----------------------------------------------------------------------
    Spec("cress-hdf", "CRESS Démo Hauts-de-France", "Hauts-de-France", "59350", "cress",
         ("cress",), national=("ESS France",), themes=("cooperation", "finance_solidaire")),
    Spec("starter-nord", "Coopérative Démo Starter ESS Nord", "Nord", "59512", "starter",
         STARTER, national=("Avise",), themes=("iae", "economie_circulaire", "habitat")),
    Spec("starter-hainaut", "Antenne Démo Starter ESS Hainaut", "Valenciennois", "59606",
         "starter", STARTER, local=True, themes=("iae", "mobilite")),
    Spec("dla-nord", "DLA Démo Nord", "Nord", "59350", "dla", DLA, national=("Réseau DLA",),
         themes=("iae", "services_a_la_personne", "education_jeunesse")),
    Spec("fabrique-tourcoing", "Fabrique à initiatives Démo Tourcoing", "Tourcoing", "59599",
         "fabrique", FABRIQUE, local=True, themes=("habitat", "education_jeunesse")),
    Spec("cae-lille", "CAE Démo Métropole Lilloise", "Métropole lilloise", "59009", "cae", CAE,
         local=True, national=("Coopérer pour entreprendre",), themes=("numerique", "culture")),
    Spec("incubateur-dunkerque", "Incubateur Démo Littoral Dunkerquois", "Dunkerquois", "59183",
         "incubateur", INCUB, local=True, themes=("transition_ecologique", "economie_circulaire")),
    Spec("piva-maubeuge", "Point PIVA+ Démo Sambre-Avesnois", "Sambre-Avesnois", "59392", "piva",
         PIVA, themes=("ruralite", "iae")),
    Spec("fonds-npdc", "Fonds Démo Solidaire Nord-Pas-de-Calais", "Nord-Pas-de-Calais", "59350",
         "fonds_npdc", FUND, national=("France Active",), themes=("finance_solidaire", "iae")),
    Spec("institut-formation", "Institut Démo de Formation ESS", "Hauts-de-France", "59178",
         "institut", circle=SECOND, themes=("cooperation", "numerique")),
    Spec("banque-cooperative", "Banque Coopérative Démo", "Hauts-de-France", "59350", "banque",
         circle=SECOND, networks=(TREMPLIN, ESSOR), themes=("finance_solidaire",)),
    Spec("urscop-hdf", "Union Démo des Scop et Scic Hauts-de-France", "Hauts-de-France",
         "59009", "urscop", circle=SECOND, national=("Les Scop",), themes=("cooperation",)),
    Spec("microcredit-cambrai", "Association Démo pour le Microcrédit Solidaire", "Cambrésis",
         "59122", "microcredit", circle=SECOND, themes=("finance_solidaire", "mobilite")),
    Spec("tierslieux-hdf", "Réseau Démo des Tiers-Lieux Hauts-de-France", "Hauts-de-France",
         "59512", "tierslieux_reseau", circle=SECOND, national=("France Tiers-Lieux",),
         themes=("numerique", "ruralite")),
    Spec("fondation-initiative", "Fondation Démo pour l'Initiative Solidaire", "Hauts-de-France",
         "59378", "fondation", circle=SECOND, themes=("education_jeunesse", "handicap", "sante")),
    # --- Pas-de-Calais (62) -------------------------------------------------------------
    Spec("starter-artois", "Coopérative Démo Starter ESS Artois", "Pas-de-Calais", "62041",
         "starter", STARTER, national=("Avise",), themes=("alimentation", "habitat")),
    Spec("dla-pas-de-calais", "DLA Démo Pas-de-Calais", "Pas-de-Calais", "62041", "dla", DLA,
         national=("Réseau DLA",), themes=("iae", "sport_loisirs", "sante")),
    Spec("fabrique-bethune", "Fabrique à initiatives Démo Béthune-Bruay", "Béthune-Bruay",
         "62119", "fabrique", FABRIQUE, local=True, themes=("services_a_la_personne", "mobilite")),
    Spec("incubateur-lens", "Incubateur Démo Bassin Minier", "Bassin minier", "62498",
         "incubateur", INCUB, local=True, themes=("transition_ecologique", "habitat")),
    Spec("cae-arras", "CAE Démo Artois Coopérative", "Pas-de-Calais", "62041", "cae", CAE,
         national=("Coopérer pour entreprendre",), themes=("services_a_la_personne", "culture")),
    Spec("piva-saint-omer", "Point PIVA+ Démo Audomarois", "Audomarois", "62765", "piva", PIVA,
         themes=("ruralite", "tourisme_solidaire")),
    Spec("tierslieu-calais", "Tiers-lieu Démo du Calaisis", "Calaisis", "62193", "tierslieu",
         circle=SECOND, national=("France Tiers-Lieux",), themes=("numerique", "culture")),
    Spec("initiative-boulonnais", "Plateforme Démo Initiative Boulonnais", "Boulonnais", "62160",
         "initiative", circle=SECOND, local=True, national=("Initiative France",),
         themes=("tourisme_solidaire", "alimentation")),
    # --- Oise (60) ----------------------------------------------------------------------
    Spec("starter-oise", "Coopérative Démo Starter ESS Oise", "Oise", "60057", "starter",
         STARTER, national=("Avise",), themes=("ruralite", "alimentation", "mobilite")),
    Spec("dla-oise", "DLA Démo Oise", "Oise", "60057", "dla", DLA, national=("Réseau DLA",),
         themes=("sport_loisirs", "education_jeunesse")),
    Spec("incubateur-compiegne", "Incubateur Démo Compiégnois", "Compiégnois", "60159",
         "incubateur", INCUB, local=True, themes=("numerique", "sante")),
    Spec("fabrique-creil", "Fabrique à initiatives Démo Sud-Oise", "Sud-Oise", "60175",
         "fabrique", FABRIQUE, local=True, themes=("iae", "habitat", "education_jeunesse")),
    Spec("cae-beauvais", "CAE Démo Oise Entreprendre", "Oise", "60057", "cae", CAE,
         national=("Coopérer pour entreprendre",), themes=("services_a_la_personne",)),
    Spec("piva-noyon", "Point PIVA+ Démo Noyonnais", "Noyonnais", "60471", "piva", PIVA,
         themes=("ruralite", "alimentation")),
    Spec("tierslieu-crepy", "Tiers-lieu Démo du Valois", "Valois", "60176", "tierslieu",
         circle=SECOND, national=("France Tiers-Lieux",),
         themes=("transition_ecologique", "culture")),
    # --- Aisne (02) ---------------------------------------------------------------------
    Spec("dla-aisne", "DLA Démo Aisne", "Aisne", "02408", "dla", DLA, national=("Réseau DLA",),
         themes=("ruralite", "services_a_la_personne", "iae")),
    Spec("incubateur-saint-quentin", "Incubateur Démo Saint-Quentinois", "Saint-Quentinois",
         "02691", "incubateur", INCUB, local=True, themes=("economie_circulaire", "numerique")),
    Spec("cae-soissons", "CAE Démo Soissonnais", "Aisne", "02722", "cae", CAE,
         national=("Coopérer pour entreprendre",), themes=("ruralite", "alimentation")),
    Spec("piva-hirson", "Point PIVA+ Démo Thiérache", "Thiérache", "02381", "piva", PIVA,
         themes=("ruralite", "mobilite", "sante")),
    Spec("tierslieu-chateau-thierry", "Tiers-lieu Démo Sud-Aisne", "Sud-Aisne", "02168",
         "tierslieu", circle=SECOND, national=("France Tiers-Lieux",),
         themes=("tourisme_solidaire", "culture")),
    Spec("initiative-aisne", "Plateforme Démo Initiative Aisne", "Aisne", "02173", "initiative",
         circle=SECOND, national=("Initiative France",), themes=("commerce_equitable", "ruralite")),
    # --- Pays de la Loire (52), network essor-demo --------------------------------------
    Spec("cress-pdl", "CRESS Démo Pays de la Loire", "Pays de la Loire", "44109", "cress",
         ("cress",), national=("ESS France",), networks=(ESSOR,), offers=2,
         themes=("cooperation",)),
    Spec("dla-loire-atlantique", "DLA Démo Loire-Atlantique", "Loire-Atlantique", "44109", "dla",
         DLA, national=("Réseau DLA",), networks=(ESSOR,), offers=2, themes=("culture", "iae")),
    Spec("incubateur-angers", "Incubateur Démo Anjou Solidaire", "Angers Loire Métropole",
         "49007", "incubateur", INCUB, local=True, networks=(ESSOR,), offers=2,
         themes=("alimentation", "transition_ecologique")),
    Spec("starter-sarthe", "Coopérative Démo Starter ESS Sarthe", "Sarthe", "72181", "starter",
         STARTER, national=("Avise",), networks=(ESSOR,), offers=2, themes=("mobilite", "habitat")),
    Spec("fonds-pdl", "Fonds Démo Solidaire Pays de la Loire", "Pays de la Loire", "44109",
         "fonds_pdl", FUND, national=("France Active",), networks=(ESSOR,), offers=2,
         themes=("finance_solidaire",)),
    Spec("cae-vendee", "CAE Démo Vendée", "Vendée", "85191", "cae", CAE,
         national=("Coopérer pour entreprendre",), networks=(ESSOR,), offers=2,
         themes=("tourisme_solidaire", "services_a_la_personne")),
)  # fmt: skip

STREETS = (
    "rue de l'Exemple",
    "place de la Coopération",
    "boulevard des Initiatives",
    "allée de la Démonstration",
    "rue des Communs",
    "quai de l'Entraide",
    "impasse du Prototype",
    "avenue de l'Économie Sociale",
)


def _luhn_digit(digits: str) -> str:
    """The check digit that makes `digits + it` pass the Luhn test (as SIREN/SIRET do)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def fictional_siret(rng: random.Random) -> str:
    """14 digits that pass the Luhn check like a real SIRET; drawn at random, registered
    to nobody we know of (the structures are fictional and named so)."""
    body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
    siren = body + _luhn_digit(body)
    nic = "0001" + "0"
    head = siren + nic[:4]
    return head + _luhn_digit(head)


def fictional_phone(rng: random.Random) -> str:
    """In 01 99 00 xx xx, a range the French regulator (ARCEP) keeps for fiction."""
    return f"01 99 00 {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"


def build_member(spec: Spec, rng: random.Random) -> DemoMember:
    commune = geography().commune(spec.commune)
    if commune is None:
        raise ValueError(f"unknown commune {spec.commune} for {spec.slug}")
    street = f"{rng.randint(1, 120)} {rng.choice(STREETS)}"
    postcode = commune.postcodes[0] if commune.postcodes else ""
    return DemoMember(
        slug=spec.slug,
        name=spec.name,
        siret=fictional_siret(rng),
        address=f"{street}, {postcode} {commune.name} (adresse fictive)",
        commune=spec.commune,
        departement=commune.departement,
        contact_email=email(f"contact.{spec.slug}"),
        contact_phone=fictional_phone(rng),
        website=f"https://{spec.slug}.{EMAIL_DOMAIN}",
        network_ids=spec.networks,
        circle=spec.circle,
        schemes=spec.schemes,
        national_networks=spec.national,
    )
