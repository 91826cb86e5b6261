"""What each kind of demo structure offers, as templates by profile (see offers.py for how
they become offers). Wording is fictional; the schemes are real French ESS ones."""

from __future__ import annotations

from dataclasses import dataclass

from services.directory.demo_data.model import Where
from services.directory.vocabulary import STAGES

ALL_STAGES = tuple(STAGES)


@dataclass(frozen=True)
class Template:
    """An offer of a profile. `scope` tokens: commune, communes (with a few neighbours),
    epci, departement (the EPCI for a `local` member), region, national, dep:XX, region:XX,
    fund and fund_consolidation (the fund's zone, see FUND_ZONES)."""

    kind: str
    stages: tuple[str, ...]
    title: str
    description: str
    scope: tuple[str, ...]
    info: tuple[str, ...] = ("description_projet", "stade", "commune")
    themes: tuple[str, ...] = ()
    generalist: bool = False  # no themes: for every project
    project_types: tuple[str, ...] | None = None  # None: drawn at random
    legal_forms: tuple[str, ...] = ()
    young: bool | None = None  # True: "moins de 3 ans"; None: drawn at random
    employer: bool | None = None
    cost: str = "gratuit"
    modes: tuple[str, ...] | None = None  # None: drawn at random
    capacity: str | None = None  # None: drawn at random (mostly open)
    network: str | None = None  # the member's first network unless said


T = Template
MOINS_DE_3_ANS = 36  # months
EMPLOYERS = ("association", "scic", "scop", "cooperative", "sas_esus")
COLLECTIVE, INDIVIDUAL = ("collective",), ("individual",)
PRESENTIEL, HYBRID, REMOTE = ("en_presentiel",), ("en_presentiel", "a_distance"), ("a_distance",)
NOT_YET = "pas_encore_constituee"

# Fund zones: (where its products go, where its consolidation products go).
FUND_ZONES: dict[str, tuple[tuple[Where, ...], tuple[Where, ...]]] = {
    "fonds_npdc": (
        (("departement", "59"), ("departement", "62")),
        (("departement", "59"), ("departement", "62")),
    ),
    # Gap: the Picardie fund's consolidation products stop short of the Oise (60).
    "fonds_picardie": (
        (("departement", "02"), ("departement", "60"), ("departement", "80")),
        (("departement", "02"), ("departement", "80")),
    ),
    "fonds_pdl": ((("region", "52"),), (("region", "52"),)),
}

STARTER = (
    T(
        "accompagnement",
        ("idee", "faisabilite"),
        "Parcours Starter ESS : de l'idée au projet",
        "Six mois pour passer d'une idée à un projet d'entreprise sociale : ateliers collectifs, "
        "rendez-vous individuels, étude de marché et modèle économique.",
        ("departement",),
        ("description_projet", "stade", "commune", "contact_porteur"),
        project_types=COLLECTIVE,
        capacity="open",
    ),
    T(
        "accompagnement",
        ("faisabilite", "creation"),
        "Accompagnement à la création d'une structure ESS",
        "Choix du statut, gouvernance, plan de financement et premières "
        "embauches, avec un·e chargé·e d'accompagnement.",
        ("departement",),
        ("description_projet", "stade", "forme_juridique", "besoins"),
        legal_forms=(NOT_YET, "association", "scic", "sas_esus"),
    ),
    T(
        "formation",
        ("idee",),
        "Ateliers collectifs « Entreprendre autrement »",
        "Quatre demi-journées pour découvrir l'entrepreneuriat social et tester son idée.",
        ("epci",),
        ("stade", "commune"),
        modes=HYBRID,
    ),
    T(
        "information",
        ("idee", "faisabilite"),
        "Permanence d'information création ESS",
        "Un premier rendez-vous sans engagement pour s'orienter.",
        ("communes",),
        ("commune",),
    ),
)

DLA = (
    T(
        "accompagnement",
        ("developpement", "consolidation", "difficulte_rebond"),
        "Accompagnement DLA individuel",
        "Diagnostic partagé puis appui d'un·e consultant·e "
        "financé par le DLA, pour les structures employeuses d'utilité sociale.",
        ("departement",),
        ("description_projet", "nombre_salaries", "forme_juridique", "besoins"),
        generalist=True,
        project_types=(),
        legal_forms=EMPLOYERS,
        employer=True,
    ),
    T(
        "accompagnement",
        ("consolidation",),
        "Accompagnement DLA collectif de filière",
        "Un accompagnement partagé par plusieurs structures d'une même filière.",
        ("departement",),
        ("nombre_salaries", "besoins"),
        legal_forms=EMPLOYERS,
        employer=True,
    ),
    T(
        "formation",
        ("developpement", "consolidation", "difficulte_rebond"),
        "Cycle de formations collectives DLA",
        "Fonction employeur, modèle économique, "
        "gouvernance : des formations courtes pour dirigeant·es bénévoles et salarié·es.",
        ("departement",),
        ("nombre_salaries",),
        employer=True,
        modes=HYBRID,
    ),
    T(
        "information",
        ("developpement", "consolidation"),
        "Diagnostic flash et orientation DLA",
        "Un échange d'une heure pour savoir si le DLA ou un autre dispositif répond à vos besoins.",
        ("departement",),
        ("besoins", "nombre_salaries"),
    ),
)

INCUBATEUR = (
    T(
        "hebergement_incubation",
        ("faisabilite", "creation"),
        "Programme d'incubation ESS",
        "Douze mois d'incubation : bureau, mentorat, expertises et comité de suivi.",
        ("departement",),
        ("description_projet", "budget_previsionnel", "contact_porteur", "besoins"),
        project_types=COLLECTIVE,
    ),
    T(
        "accompagnement",
        ("idee", "faisabilite"),
        "Pré-incubation : tester son idée",
        "Trois mois pour confronter son idée au terrain avant d'entrer en incubation.",
        ("epci",),
        ("description_projet", "stade", "contact_porteur"),
    ),
    T(
        "accompagnement",
        ("developpement",),
        "Programme d'accélération ESS",
        "Pour les jeunes structures qui changent d'échelle.",
        ("departement",),
        ("description_projet", "date_creation", "budget_previsionnel"),
        young=True,
    ),
    T(
        "hebergement_incubation",
        ("creation", "developpement"),
        "Bureaux partagés pour jeunes structures",
        "Postes de travail et salles de réunion à loyer modéré.",
        ("commune",),
        ("date_creation", "forme_juridique"),
        young=True,
        cost="payant",
    ),
)

FABRIQUE = (
    T(
        "accompagnement",
        ("idee",),
        "Détection et émergence de projets collectifs",
        "Nous partons des besoins du territoire pour faire naître des entreprises sociales.",
        ("departement",),
        ("description_projet", "commune"),
        project_types=COLLECTIVE,
    ),
    T(
        "accompagnement",
        ("idee", "faisabilite"),
        "Étude d'opportunité et de faisabilité",
        "Étude de marché, partenariats et montage du collectif de porteurs.",
        ("epci",),
        ("description_projet", "stade", "besoins"),
        project_types=COLLECTIVE,
    ),
    T(
        "mise_en_reseau",
        ("idee",),
        "Rencontres d'acteurs du territoire",
        "Élu·es, associations et entreprises autour d'un besoin non couvert.",
        ("epci",),
        ("commune",),
    ),
)

CAE = (
    T(
        "accompagnement",
        ("faisabilite", "creation"),
        "Test d'activité en coopérative",
        "Lancer son activité sans créer sa structure : contrat CAPE, accompagnement et "
        "comptabilité mutualisée.",
        ("departement",),
        ("description_projet", "stade", "budget_previsionnel"),
        project_types=INDIVIDUAL,
        legal_forms=(NOT_YET,),
    ),
    T(
        "hebergement_incubation",
        ("creation", "developpement"),
        "Hébergement juridique et comptable de votre activité",
        "Votre activité dans la coopérative, avec un statut d'entrepreneur·e salarié·e.",
        ("departement",),
        ("description_projet", "budget_previsionnel"),
        project_types=INDIVIDUAL,
        cost="sur_conditions",
    ),
    T(
        "formation",
        ("creation",),
        "Formation « Entrepreneur·e salarié·e »",
        "Gestion, prix, prospection : les bases pour vivre de son activité.",
        ("epci",),
        ("stade",),
        project_types=INDIVIDUAL,
        modes=HYBRID,
    ),
    T(
        "accompagnement",
        ("developpement", "consolidation"),
        "Devenir associé·e de la coopérative",
        "Un parcours vers le sociétariat pour les entrepreneur·es installé·es.",
        ("departement",),
        ("date_creation",),
        project_types=INDIVIDUAL,
        legal_forms=("scop", "scic"),
    ),
)

PIVA = (
    T(
        "information",
        ("idee", "faisabilite", "creation"),
        "Point d'information et d'orientation ESS",
        "Un lieu de proximité pour s'informer et être orienté·e vers le bon accompagnement.",
        ("epci",),
        ("commune", "stade"),
        generalist=True,
    ),
    T(
        "information",
        ("idee", "faisabilite", "creation", "developpement"),
        "Permanences itinérantes en milieu rural",
        "Des permanences dans les mairies et tiers-lieux des communes rurales.",
        ("communes",),
        ("commune",),
        themes=("ruralite",),
    ),
    T(
        "mise_en_reseau",
        ("idee", "faisabilite", "creation"),
        "Mise en relation avec les acteurs locaux",
        "Nous vous présentons les partenaires utiles à votre projet.",
        ("epci",),
        ("description_projet", "besoins"),
    ),
)

FONDS = (
    T(
        "financement",
        ("creation", "developpement"),
        "Garantie bancaire solidaire",
        "Une garantie jusqu'à 80 % de votre prêt bancaire.",
        ("fund",),
        ("budget_previsionnel", "forme_juridique", "date_creation"),
        cost="sur_conditions",
        themes=("finance_solidaire",),
    ),
    T(
        "financement",
        ("faisabilite", "creation"),
        "Prêt d'amorçage solidaire",
        "Un prêt sans garantie personnelle pour démarrer.",
        ("fund",),
        ("budget_previsionnel", "description_projet"),
        young=True,
        cost="sur_conditions",
    ),
    T(
        "financement",
        ("developpement", "consolidation"),
        "Contrat d'apport associatif",
        "Des quasi-fonds propres pour les associations employeuses.",
        ("fund_consolidation",),
        ("budget_previsionnel", "nombre_salaries"),
        legal_forms=("association",),
        employer=True,
        cost="sur_conditions",
    ),
    T(
        "financement",
        ("consolidation",),
        "Prêt participatif de consolidation",
        "Renforcer les fonds propres d'une structure qui a fait ses preuves.",
        ("fund_consolidation",),
        ("budget_previsionnel", "date_creation", "nombre_salaries"),
        employer=True,
        cost="sur_conditions",
    ),
    T(
        "financement",
        ("difficulte_rebond",),
        "Fonds de rebond des structures ESS",
        "Un financement d'urgence adossé à un plan de redressement.",
        ("fund",),
        ("budget_previsionnel", "besoins", "nombre_salaries"),
        cost="sur_conditions",
        capacity="waitlist",
    ),
    T(
        "accompagnement",
        ("creation", "developpement"),
        "Expertise financière des projets",
        "Un·e chargé·e de mission analyse votre plan de financement avec vous.",
        ("fund",),
        ("budget_previsionnel",),
    ),
)

CRESS = (
    T(
        "information",
        ALL_STAGES,
        "Information et orientation ESS",
        "La porte d'entrée du réseau : nous vous orientons vers la bonne structure.",
        ("region",),
        ("stade", "commune"),
        generalist=True,
        project_types=(),
        capacity="open",
        modes=HYBRID,
    ),
    T(
        "mise_en_reseau",
        ALL_STAGES,
        "Rencontres régionales des acteurs de l'ESS",
        "Rencontres, clubs thématiques et annuaire des acteurs.",
        ("region",),
        ("stade",),
        generalist=True,
        project_types=(),
        capacity="open",
    ),
    T(
        "formation",
        ("idee", "faisabilite"),
        "Mois de l'ESS : ateliers découverte",
        "Des ateliers gratuits chaque novembre dans toute la région.",
        ("region",),
        ("stade",),
        generalist=True,
    ),
    T(
        "information",
        ("developpement", "consolidation"),
        "Observatoire régional de l'ESS",
        "Données, études et panoramas pour étayer vos projets.",
        ("region",),
        (),
        generalist=True,
        modes=REMOTE,
    ),
)

INSTITUT = (
    T(
        "formation",
        ("idee", "faisabilite", "creation"),
        "Se former pour entreprendre en ESS",
        "Un cycle de dix jours : modèle économique, gouvernance, financement.",
        ("region",),
        ("stade", "description_projet"),
        cost="sur_conditions",
        capacity="open",
    ),
    T(
        "formation",
        ("developpement", "consolidation"),
        "Gouvernance et gestion des structures ESS",
        "Pour dirigeant·es bénévoles et salarié·es.",
        ("region",),
        ("forme_juridique", "nombre_salaries"),
        cost="payant",
        capacity="open",
    ),
    # Gap: this cycle is not run in the Somme (80).
    T(
        "formation",
        ("difficulte_rebond",),
        "Anticiper et traverser les difficultés",
        "Repérer les signaux d'alerte, bâtir un plan de rebond.",
        ("dep:59", "dep:62", "dep:02", "dep:60"),
        ("besoins", "nombre_salaries"),
        capacity="open",
    ),
    T(
        "formation",
        ("creation", "developpement"),
        "Les bases de la gestion associative (en ligne)",
        "Un parcours en ligne à son rythme.",
        ("national",),
        ("stade",),
        legal_forms=("association", NOT_YET),
        modes=REMOTE,
    ),
)

BANQUE = (
    T(
        "financement",
        ("creation", "developpement"),
        "Crédit d'investissement pour l'ESS",
        "Des prêts adaptés aux associations, coopératives et entreprises solidaires.",
        ("region:32",),
        ("budget_previsionnel", "forme_juridique"),
        cost="sur_conditions",
        capacity="open",
    ),
    T(
        "information",
        ("creation",),
        "Services bancaires pour associations et coopératives",
        "Compte, moyens de paiement, épargne solidaire.",
        ("region:32",),
        ("forme_juridique",),
    ),
    T(
        "financement",
        ("creation", "developpement"),
        "Crédit d'investissement pour l'ESS",
        "Des prêts adaptés aux associations, coopératives et entreprises solidaires.",
        ("region:52",),
        ("budget_previsionnel", "forme_juridique"),
        cost="sur_conditions",
        network="essor-demo",
    ),
    T(
        "information",
        ("creation",),
        "Services bancaires pour associations et coopératives",
        "Compte, moyens de paiement, épargne solidaire.",
        ("region:52",),
        ("forme_juridique",),
        network="essor-demo",
    ),
)

URSCOP = (
    T(
        "accompagnement",
        ("faisabilite", "creation"),
        "Création de Scop et de Scic",
        "Statuts, gouvernance, financement : l'accompagnement des projets coopératifs.",
        ("region",),
        ("description_projet", "forme_juridique"),
        project_types=COLLECTIVE,
        legal_forms=(NOT_YET, "scop", "scic"),
        capacity="open",
    ),
    T(
        "accompagnement",
        ("developpement", "difficulte_rebond"),
        "Transmission et reprise d'entreprise en Scop",
        "Reprise par les salarié·es, transformation en coopérative.",
        ("region",),
        ("nombre_salaries", "forme_juridique", "besoins"),
        legal_forms=("societe_commerciale", "association", "scop"),
        capacity="open",
    ),
    T(
        "accompagnement",
        ("consolidation",),
        "Suivi et révision coopérative",
        "Un suivi annuel des coopératives adhérentes.",
        ("region",),
        ("date_creation",),
        legal_forms=("scop", "scic"),
        capacity="open",
    ),
    T(
        "financement",
        ("creation", "developpement"),
        "Prêt participatif coopératif",
        "Des fonds propres pour les Scop et Scic.",
        ("region",),
        ("budget_previsionnel",),
        legal_forms=("scop", "scic"),
        cost="sur_conditions",
    ),
)

MICROCREDIT = (
    T(
        "financement",
        ("creation",),
        "Microcrédit pour créer son activité",
        "Jusqu'à 12 000 € pour celles et ceux qui n'ont pas accès au crédit bancaire.",
        ("region",),
        ("budget_previsionnel", "contact_porteur"),
        project_types=INDIVIDUAL,
        cost="sur_conditions",
    ),
    T(
        "accompagnement",
        ("developpement",),
        "Accompagnement après la création",
        "Un suivi de la première année d'activité.",
        ("dep:59", "dep:62"),
        ("date_creation",),
        project_types=INDIVIDUAL,
        young=True,
    ),
)

TIERSLIEUX_RESEAU = (
    T(
        "hebergement_incubation",
        ALL_STAGES,
        "Espaces de travail partagés du réseau des tiers-lieux",
        "Coworking, ateliers et salles dans plus de soixante tiers-lieux.",
        ("region",),
        ("commune",),
        generalist=True,
        project_types=(),
        cost="payant",
        capacity="open",
    ),
    T(
        "mise_en_reseau",
        ("creation", "developpement"),
        "Rencontres et annuaire des tiers-lieux",
        "Trouver le tiers-lieu qui accueillera votre activité.",
        ("region",),
        ("commune",),
    ),
)

FONDATION = (
    T(
        "financement",
        ("idee", "faisabilite"),
        "Bourse d'émergence solidaire",
        "Jusqu'à 5 000 € pour étudier la faisabilité d'un projet d'utilité sociale.",
        ("region",),
        ("description_projet", "budget_previsionnel"),
        capacity="open",
    ),
    T(
        "financement",
        ("developpement",),
        "Prix de l'innovation sociale",
        "Un prix annuel ; l'appel 2026 est clos.",
        ("region",),
        ("description_projet",),
        capacity="full",
    ),
    T(
        "accompagnement",
        ("consolidation", "difficulte_rebond"),
        "Mécénat de compétences",
        "Des salarié·es d'entreprises partenaires mettent leur expertise à votre service.",
        ("region",),
        ("besoins",),
    ),
)

INITIATIVE = (
    T(
        "financement",
        ("creation",),
        "Prêt d'honneur à la création",
        "Un prêt personnel à taux zéro, qui facilite le prêt bancaire.",
        ("departement",),
        ("budget_previsionnel", "description_projet", "contact_porteur"),
        cost="sur_conditions",
    ),
    T(
        "accompagnement",
        ("creation", "developpement"),
        "Parrainage de créatrices et créateurs",
        "Un·e chef·fe d'entreprise bénévole vous accompagne pendant deux ans.",
        ("departement",),
        ("description_projet",),
        young=True,
    ),
)

TIERSLIEU = (
    T(
        "hebergement_incubation",
        ("faisabilite", "creation", "developpement"),
        "Coworking et bureaux partagés",
        "Postes, ateliers et domiciliation.",
        ("communes",),
        ("commune",),
        cost="payant",
    ),
    T(
        "mise_en_reseau",
        ("idee", "faisabilite"),
        "Café des porteurs de projet",
        "Un rendez-vous mensuel pour partager ses questions.",
        ("epci",),
        ("stade",),
    ),
    T(
        "formation",
        ("creation",),
        "Atelier numérique pour porteurs de projet",
        "Site web, réseaux sociaux et outils collaboratifs.",
        ("commune",),
        ("stade", "besoins"),
        themes=("numerique",),
    ),
)

TEMPLATES: dict[str, tuple[Template, ...]] = {
    "starter": STARTER,
    "dla": DLA,
    "incubateur": INCUBATEUR,
    "fabrique": FABRIQUE,
    "cae": CAE,
    "piva": PIVA,
    "fonds_npdc": FONDS,
    "fonds_picardie": FONDS,
    "fonds_pdl": FONDS,
    "cress": CRESS,
    "institut": INSTITUT,
    "banque": BANQUE,
    "urscop": URSCOP,
    "microcredit": MICROCREDIT,
    "tierslieux_reseau": TIERSLIEUX_RESEAU,
    "fondation": FONDATION,
    "initiative": INITIATIVE,
    "tierslieu": TIERSLIEU,
}
