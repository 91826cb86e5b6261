"""Codes of the directory, held as data: ASCII codes on the wire, French and English labels.

Each entry is `code: (label_fr, label_en)`. Themes also map to data·inclusion thématiques
where one exists (`THEME_TO_DATA_INCLUSION`).
"""

from __future__ import annotations

Labels = dict[str, tuple[str, str]]

OFFER_KINDS: Labels = {
    "accompagnement": ("Accompagnement", "Support"),
    "financement": ("Financement", "Funding"),
    "formation": ("Formation", "Training"),
    "information": ("Information", "Information"),
    "hebergement_incubation": ("Hébergement / incubation", "Hosting / incubation"),
    "mise_en_reseau": ("Mise en réseau", "Networking"),
}

STAGES: Labels = {
    "idee": ("Idée", "Idea"),
    "faisabilite": ("Faisabilité", "Feasibility"),
    "creation": ("Création", "Creation"),
    "developpement": ("Développement", "Development"),
    "consolidation": ("Consolidation", "Consolidation"),
    "difficulte_rebond": ("Difficulté / rebond", "Difficulty / rebound"),
}

THEMES: Labels = {
    "ruralite": ("Ruralité", "Rural areas"),
    "culture": ("Culture", "Culture"),
    "alimentation": ("Alimentation", "Food"),
    "iae": ("Insertion par l'activité économique", "Work integration"),
    "transition_ecologique": ("Transition écologique", "Ecological transition"),
    "numerique": ("Numérique", "Digital"),
    "sante": ("Santé", "Health"),
    "mobilite": ("Mobilité", "Mobility"),
    "habitat": ("Habitat", "Housing"),
    "economie_circulaire": ("Économie circulaire", "Circular economy"),
    "services_a_la_personne": ("Services à la personne", "Personal services"),
    "sport_loisirs": ("Sport et loisirs", "Sport and leisure"),
    "education_jeunesse": ("Éducation, jeunesse", "Education, youth"),
    "commerce_equitable": ("Commerce équitable", "Fair trade"),
    "tourisme_solidaire": ("Tourisme solidaire", "Solidarity tourism"),
    "finance_solidaire": ("Finance solidaire", "Solidarity finance"),
    "cooperation": ("Coopération, SCOP, SCIC", "Cooperatives"),
    "handicap": ("Handicap", "Disability"),
}

THEME_TO_DATA_INCLUSION: dict[str, list[str]] = {
    "alimentation": ["equipement-et-alimentation--alimentation"],
    "numerique": ["numerique--maitriser-les-fondamentaux-du-numerique"],
    "sante": ["sante--acces-aux-soins"],
    "mobilite": ["mobilite--etre-accompagne-dans-son-parcours-mobilite"],
    "habitat": ["logement-hebergement--sinformer-sur-les-demarches-liees-a-lacces-au-logement"],
    "iae": ["trouver-un-emploi--maintien-dans-lemploi"],
    "sport_loisirs": ["remobilisation--activites-sportives-et-culturelles"],
    "culture": ["remobilisation--activites-sportives-et-culturelles"],
}
"""Every offer is also about creating or developing a project (see STAGE_TO_DATA_INCLUSION)."""

STAGE_TO_DATA_INCLUSION: dict[str, str] = {
    "idee": "creer-une-entreprise--definir-son-projet-de-creation-dentreprise",
    "faisabilite": "creer-une-entreprise--structurer-son-projet-de-creation-dentreprise",
    "creation": "creer-une-entreprise--structurer-son-projet-de-creation-dentreprise",
    "developpement": "creer-une-entreprise--developper-son-entreprise",
    "consolidation": "creer-une-entreprise--developper-son-entreprise",
    "difficulte_rebond": "creer-une-entreprise--developper-son-entreprise",
}

SCHEMES: Labels = {
    "starter_ess": ("Starter ESS", "Starter ESS"),
    "dla": ("Dispositif local d'accompagnement (DLA)", "Local support scheme (DLA)"),
    "incubateur": ("Incubateur", "Incubator"),
    "fabrique_initiatives": ("Fabrique à initiatives", "Initiative factory"),
    "france_active": ("Fonds territorial France Active", "France Active territorial fund"),
    "cae": ("Coopérative d'activité et d'emploi", "Business and employment cooperative"),
    "piva_plus": ("PIVA+", "PIVA+"),
    "cress": ("CRESS", "CRESS"),
    "autre": ("Autre", "Other"),
}

CIRCLES: Labels = {
    "premier_cercle": ("Premier cercle", "First circle"),
    "second_cercle": ("Second cercle", "Second circle"),
}

LEGAL_FORMS: Labels = {
    "pas_encore_constituee": ("Pas encore constituée", "Not yet incorporated"),
    "association": ("Association", "Association"),
    "scop": ("SCOP", "Worker cooperative (SCOP)"),
    "scic": ("SCIC", "Multi-stakeholder cooperative (SCIC)"),
    "cooperative": ("Autre coopérative", "Other cooperative"),
    "sas_esus": ("Société commerciale ESUS", "ESUS-certified company"),
    "societe_commerciale": ("Société commerciale", "Company"),
    "fondation": ("Fondation", "Foundation"),
    "mutuelle": ("Mutuelle", "Mutual"),
}

COSTS: Labels = {
    "gratuit": ("Gratuit", "Free"),
    "payant": ("Payant", "Paid"),
    "sur_conditions": ("Sur conditions", "Conditional"),
}

MODES_ACCUEIL: Labels = {
    "en_presentiel": ("En présentiel", "In person"),
    "a_distance": ("À distance", "Remote"),
}

CAPACITIES: Labels = {
    "open": ("Places disponibles", "Open"),
    "waitlist": ("Liste d'attente", "Waiting list"),
    "full": ("Complet", "Full"),
}

PROJECT_TYPES: Labels = {
    "individual": ("Projet individuel", "Individual project"),
    "collective": ("Projet collectif", "Collective project"),
}

REQUIRED_INFORMATION: Labels = {
    "description_projet": ("Description du projet", "Project description"),
    "stade": ("Stade du projet", "Project stage"),
    "commune": ("Commune du projet", "Project commune"),
    "forme_juridique": ("Forme juridique", "Legal form"),
    "date_creation": ("Date de création de la structure", "Structure creation date"),
    "besoins": ("Besoins exprimés", "Stated needs"),
    "budget_previsionnel": ("Budget prévisionnel", "Provisional budget"),
    "nombre_salaries": ("Nombre de salariés", "Number of employees"),
    "contact_porteur": ("Coordonnées du porteur", "Project carrier's contact details"),
}

ROLES: Labels = {
    "adviser": ("Conseiller·ère", "Adviser"),
    "member_admin": ("Administrateur·rice de structure", "Member admin"),
    "network_operator": ("Opérateur·rice de réseau", "Network operator"),
    "funder": ("Financeur", "Funder"),
    "partner_system": ("Système partenaire", "Partner system"),
    "platform_admin": ("Administrateur·rice de la plateforme", "Platform admin"),
}
MEMBER_ROLES = frozenset({"adviser", "member_admin"})
NETWORK_ROLES = frozenset({"network_operator", "funder", "partner_system"})


def label(vocabulary: Labels, code: str, lang: str = "fr") -> str:
    pair = vocabulary.get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]


def unknown(vocabulary: Labels, codes: list[str] | tuple[str, ...]) -> list[str]:
    return [code for code in codes if code not in vocabulary]
