"""What each kind of notification says, in French (default) and English, as data.

`TEXTS[kind] = {lang: (title, sentence)}`: format strings over the view `view()` builds from a
notification's context (non-personal facts: codes, public member names) plus labels looked up
here: stage and reason labels, the commune's French name from the vendored geography.
"""

from __future__ import annotations

from typing import Any

from services.directory.geo import Geography
from services.directory.vocabulary import STAGES
from services.referral.domain import DECLINE_REASONS, FAILURE_REASONS, OUTCOMES

Texts = dict[str, tuple[str, str]]

_PROJECT_FR = "un projet au stade « {stage} » à {commune}"
_PROJECT_EN = "a project at the “{stage}” stage in {commune}"

TEXTS: dict[str, Texts] = {
    "referral.sent": {
        "fr": (
            "Nouvelle orientation : projet au stade « {stage} » à {commune}",
            "{sender} vous oriente " + _PROJECT_FR + ". Merci d'y répondre dans Relais.",
        ),
        "en": (
            "New referral: project at the “{stage}” stage in {commune}",
            "{sender} refers " + _PROJECT_EN + " to you. Please answer it in Relais.",
        ),
    },
    "referral.accepted": {
        "fr": ("Orientation acceptée par {receiver}", "{receiver} a accepté l'orientation."),
        "en": ("Referral accepted by {receiver}", "{receiver} accepted the referral."),
    },
    "referral.declined": {
        "fr": ("Orientation déclinée par {receiver}", "{receiver} a décliné : {reason}."),
        "en": ("Referral declined by {receiver}", "{receiver} declined: {reason}."),
    },
    "referral.cancelled": {
        "fr": ("Orientation annulée par {sender}", "{sender} a annulé l'orientation."),
        "en": ("Referral cancelled by {sender}", "{sender} cancelled the referral."),
    },
    "referral.expired": {
        "fr": (
            "Orientation expirée sans réponse",
            "L'orientation vers {receiver} a expiré sans réponse.",
        ),
        "en": ("Referral expired unanswered", "The referral to {receiver} expired unanswered."),
    },
    "referral.info_requested": {
        "fr": ("{receiver} demande des informations", "{receiver} attend des précisions."),
        "en": ("{receiver} asks for information", "{receiver} needs more information."),
    },
    "referral.info_provided": {
        "fr": ("{sender} a complété le dossier", "{sender} a répondu à votre demande."),
        "en": ("{sender} completed the file", "{sender} answered your request."),
    },
    "referral.started": {
        "fr": ("Accompagnement commencé", "{receiver} a commencé l'accompagnement."),
        "en": ("Support started", "{receiver} started the support."),
    },
    "referral.on_hold": {
        "fr": ("Accompagnement suspendu", "{receiver} a suspendu l'accompagnement."),
        "en": ("Support on hold", "{receiver} put the support on hold."),
    },
    "referral.resumed": {
        "fr": ("Accompagnement repris", "{receiver} a repris l'accompagnement."),
        "en": ("Support resumed", "{receiver} resumed the support."),
    },
    "referral.completed": {
        "fr": ("Accompagnement terminé", "{receiver} a terminé l'accompagnement : {outcome}."),
        "en": ("Support completed", "{receiver} completed the support: {outcome}."),
    },
    "referral.failed": {
        "fr": ("Accompagnement interrompu", "{receiver} signale un échec : {reason}."),
        "en": ("Support failed", "{receiver} reports a failure: {reason}."),
    },
    "referral.reminder_due": {
        "fr": (
            "Orientation en attente depuis {days_open} jours",
            "L'orientation de {sender} vers {receiver} attend une réponse.",
        ),
        "en": (
            "Referral waiting for {days_open} days",
            "The referral from {sender} to {receiver} is waiting for an answer.",
        ),
    },
    "referral.assigned": {
        "fr": ("Une orientation vous est confiée", "Vous suivez désormais cette orientation."),
        "en": ("A referral is assigned to you", "You now follow this referral."),
    },
    "referral.message_posted": {
        "fr": ("Nouveau message sur une orientation", "Un message vous attend dans Relais."),
        "en": ("New message on a referral", "A message is waiting for you in Relais."),
    },
    "referral.command_rejected": {
        "fr": ("Commande refusée : {command_type}", "Motif : {reason}."),
        "en": ("Command rejected: {command_type}", "Reason: {reason}."),
    },
    "directory.member_suspended": {
        "fr": ("Structure suspendue : {member}", "La structure {member} est suspendue."),
        "en": ("Member suspended: {member}", "The member {member} is suspended."),
    },
    "directory.member_reactivated": {
        "fr": ("Structure réactivée : {member}", "La structure {member} est de nouveau active."),
        "en": ("Member reactivated: {member}", "The member {member} is active again."),
    },
    "directory.offer_freshness_reminder": {
        "fr": (
            "Votre offre est-elle à jour ?",
            "Votre offre n'a pas été mise à jour depuis {months_without_update} mois : "
            "vérifiez-la dans l'annuaire.",
        ),
        "en": (
            "Is your offer up to date?",
            "Your offer was not updated for {months_without_update} months: "
            "please check it in the directory.",
        ),
    },
    "directory.api_key_created": {
        "fr": ("Nouvelle clé d'API", "Une clé d'API a été créée pour {member}."),
        "en": ("New API key", "An API key was created for {member}."),
    },
    "directory.api_key_revoked": {
        "fr": ("Clé d'API révoquée", "Une clé d'API de {member} a été révoquée."),
        "en": ("API key revoked", "An API key of {member} was revoked."),
    },
    "directory.command_key_registered": {
        "fr": ("Nouvelle clé de signature", "Une clé de signature de commandes est enregistrée."),
        "en": ("New signing key", "A command signing key was registered."),
    },
    "directory.command_key_revoked": {
        "fr": ("Clé de signature révoquée", "Une clé de signature de commandes est révoquée."),
        "en": ("Signing key revoked", "A command signing key was revoked."),
    },
    "evaluation.follow_up_due": {
        "fr": (
            "Suivi à {years_after} an(s) à renseigner",
            "Le suivi du projet accompagné il y a {years_after} an(s) est à renseigner.",
        ),
        "en": (
            "{years_after}-year follow-up due",
            "The follow-up of the project supported {years_after} year(s) ago is due.",
        ),
    },
    "notify.endpoint_disabled": {
        "fr": (
            "Point de réception webhook désactivé",
            "Votre abonnement {subscription_id} est désactivé ({reason}) : "
            "corrigez le point de réception puis réactivez-le.",
        ),
        "en": (
            "Webhook endpoint disabled",
            "Your subscription {subscription_id} is disabled ({reason}): "
            "fix the endpoint, then enable it again.",
        ),
    },
}

PORTEUR_TEXTS: dict[str, Texts] = {
    "referral.accepted": {
        "fr": (
            "Votre demande d'accompagnement est acceptée",
            "Bonne nouvelle : {receiver} a accepté de vous accompagner et va vous contacter.",
        ),
        "en": (
            "Your request for support was accepted",
            "Good news: {receiver} agreed to support you and will contact you.",
        ),
    },
}

_LABELS = {"reason": {**DECLINE_REASONS, **FAILURE_REASONS}, "outcome": OUTCOMES}


def _label(table: dict[str, tuple[str, str]], code: str | None, lang: str) -> str:
    if not code:
        return "—"
    pair = table.get(code)
    return code if pair is None else pair[0 if lang == "fr" else 1]


def commune_label(geo: Geography, code: str | None) -> str:
    """`Amiens (80021)`: the French name from the vendored geography, with the INSEE code."""
    if not code:
        return "—"
    commune = geo.commune(code)
    return f"{commune.name} ({code})" if commune else code


def view(context: dict[str, Any], lang: str, geo: Geography) -> dict[str, Any]:
    """The values the texts and templates are formatted with."""
    values: dict[str, Any] = {k: v for k, v in context.items() if v is not None}
    values.setdefault("sender", context.get("sender_name") or context.get("sender_member_id"))
    values.setdefault("receiver", context.get("receiver_name") or context.get("receiver_member_id"))
    values["member"] = context.get("member_name") or context.get("member_id") or "—"
    values["stage"] = _label(STAGES, context.get("stage"), lang)
    values["commune"] = commune_label(geo, context.get("commune"))
    for field, table in _LABELS.items():
        values[field] = _label(table, context.get(field), lang)
    return values


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"


def title_and_sentence(
    kind: str, context: dict[str, Any], lang: str, geo: Geography, *, porteur: bool = False
) -> tuple[str, str]:
    table = (PORTEUR_TEXTS if porteur else TEXTS).get(kind)
    if table is None:
        return kind, ""
    title, sentence = table.get(lang) or table["fr"]
    values = _Defaults(view(context, lang, geo))
    return title.format_map(values), sentence.format_map(values)
