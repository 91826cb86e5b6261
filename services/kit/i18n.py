"""Messages people read: French by default, English on request (Accept-Language or ?lang=)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]

MESSAGES: dict[str, dict[Lang, str]] = {
    "auth.missing": {
        "fr": "Authentification requise : envoyez un jeton Bearer obtenu auprès de l'annuaire.",
        "en": "Authentication required: send a Bearer token obtained from the directory.",
    },
    "auth.invalid": {
        "fr": "Jeton invalide ou expiré : demandez-en un nouveau ({reason}).",
        "en": "Invalid or expired token: request a new one ({reason}).",
    },
    "auth.forbidden": {
        "fr": "Vous n'avez pas le droit de faire cela ({reason}).",
        "en": "You are not allowed to do this ({reason}).",
    },
    "validation": {
        "fr": "Requête invalide : {summary}",
        "en": "Invalid request: {summary}",
    },
    "not_found": {
        "fr": "{what} introuvable : {id}.",
        "en": "{what} not found: {id}.",
    },
    "conflict": {"fr": "Conflit : {reason}", "en": "Conflict: {reason}"},
    "unavailable": {
        "fr": "Service momentanément indisponible : {reason}. Réessayez dans un instant.",
        "en": "Service temporarily unavailable: {reason}. Try again shortly.",
    },
    "internal": {
        "fr": "Erreur interne ; l'incident est journalisé (référence {ref}).",
        "en": "Internal error; the incident is logged (reference {ref}).",
    },
    "member.unknown": {
        "fr": "Structure inconnue : {id}. Vérifiez l'identifiant dans l'annuaire.",
        "en": "Unknown member: {id}. Check the id in the directory.",
    },
    "referral.self": {
        "fr": "Une structure ne peut pas s'orienter un projet à elle-même.",
        "en": "A member cannot refer a project to itself.",
    },
    "api_key.invalid": {
        "fr": "Clé d'API inconnue ou révoquée.",
        "en": "Unknown or revoked API key.",
    },
    "geo.unknown_commune": {
        "fr": "Commune inconnue : « {value} ». Voyez les communes proches proposées dans details.",
        "en": "Unknown commune: '{value}'. See the closest communes suggested in details.",
    },
    "geo.unknown_territory": {
        "fr": "Territoire inconnu : {level} « {value} » (codes INSEE, SIREN pour les EPCI, FR).",
        "en": "Unknown territory: {level} '{value}' (INSEE codes, SIREN for EPCIs, FR).",
    },
    "login.invalid": {
        "fr": "Adresse électronique ou mot de passe incorrect.",
        "en": "Wrong email address or password.",
    },
    "user_token.invalid": {
        "fr": "Lien invalide, déjà utilisé ou expiré : demandez-en un nouveau.",
        "en": "Invalid, used or expired link: ask for a new one.",
    },
    "password.weak": {
        "fr": "Mot de passe trop faible : au moins {min} caractères, dont lettres et chiffres.",
        "en": "Password too weak: at least {min} characters, letters and digits.",
    },
    "referral.transition": {
        "fr": "Action « {action} » impossible depuis le statut « {current} ». "
        "Possibles : {allowed}.",
        "en": "Action '{action}' is not allowed from status '{current}'. Allowed: {allowed}.",
    },
    "referral.missing_information": {
        "fr": "L'offre demande des informations absentes du projet : {missing}.",
        "en": "The offer requires information the project lacks: {missing}.",
    },
    "precondition": {
        "fr": "La ressource a changé depuis votre lecture (version {current}) : relisez-la.",
        "en": "The resource changed since you read it (version {current}): read it again.",
    },
    "idempotency.mismatch": {
        "fr": "Cette clé d'idempotence a déjà servi pour une autre requête.",
        "en": "This idempotency key was already used for another request.",
    },
    "consent.missing": {
        "fr": "Aucun consentement valide du porteur pour ce partage : recueillez-le d'abord.",
        "en": "No valid consent from the project carrier for this sharing: record it first.",
    },
    "admin.invalid": {
        "fr": "Clé d'administration de la plateforme invalide.",
        "en": "Invalid platform admin key.",
    },
    "public.too_large": {
        "fr": "Demande trop volumineuse : {max} octets au plus. Raccourcissez vos textes.",
        "en": "Request too large: {max} bytes at most. Shorten your texts.",
    },
    "public.rate_limited": {
        "fr": "Trop de demandes envoyées depuis cette adresse ou pour ce contact : "
        "réessayez dans {minutes} minute(s).",
        "en": "Too many requests from this address or for this contact: "
        "try again in {minutes} minute(s).",
    },
    "public.rejected": {
        "fr": "Demande refusée : elle ressemble à un envoi automatique.",
        "en": "Request refused: it looks like an automated submission.",
    },
    "public.spam": {
        "fr": "Demande refusée : trop de liens dans vos textes ({found}, {max} au plus) "
        "ou un lien dans votre nom. Retirez-les et renvoyez la demande.",
        "en": "Request refused: too many links in your texts ({found}, {max} at most) "
        "or a link in your name. Remove them and send again.",
    },
    "public.consent_required": {
        "fr": "Cochez la case de consentement : sans elle, la structure ne peut pas "
        "recevoir votre demande ni vous contacter.",
        "en": "Tick the consent box: without it the member can neither receive your "
        "request nor contact you.",
    },
    "public.contact_required": {
        "fr": "Indiquez une adresse électronique ou un numéro de téléphone pour être contacté·e.",
        "en": "Give an email address or a phone number so that you can be contacted.",
    },
    "public.member_unavailable": {
        "fr": "Cette structure ne reçoit pas de demandes pour le moment : choisissez-en une autre.",
        "en": "This member does not take requests at the moment: choose another one.",
    },
    "public.link_unknown": {
        "fr": "Lien inconnu : vérifiez qu'il est complet (copiez-le en entier).",
        "en": "Unknown link: check that it is complete (copy all of it).",
    },
    "public.erased": {
        "fr": "Demande effacée : vos données personnelles ont été supprimées.",
        "en": "Request erased: your personal data has been deleted.",
    },
    "grid.unknown_version": {
        "fr": "Version de grille inconnue : {version}. Versions publiées : {known}.",
        "en": "Unknown grid version: {version}. Published versions: {known}.",
    },
    "grid.invalid_evaluation": {
        "fr": "Évaluation invalide : {summary}",
        "en": "Invalid evaluation: {summary}",
    },
    "followup.not_due": {
        "fr": "Ce suivi n'est pas encore échu (échéance le {due}) : répondez à partir de ce jour.",
        "en": "This follow-up is not due yet (due on {due}): answer from that date.",
    },
    "selfdiag.invalid": {
        "fr": "Réponses incomplètes ou invalides : {summary}",
        "en": "Incomplete or invalid answers: {summary}",
    },
    "webhook.url_scheme": {
        "fr": "Adresse de webhook invalide : elle doit commencer par http:// ou https:// ({url}).",
        "en": "Invalid webhook URL: it must start with http:// or https:// ({url}).",
    },
    "webhook.url_host": {
        "fr": "Adresse de webhook sans nom d'hôte ({url}) : indiquez l'adresse complète.",
        "en": "Webhook URL without a host ({url}): give the full address.",
    },
    "webhook.url_credentials": {
        "fr": "Pas d'identifiants dans l'adresse du webhook : le secret de signature suffit.",
        "en": "No credentials in the webhook URL: the signing secret is enough.",
    },
    "webhook.url_forbidden": {
        "fr": "Adresse de webhook refusée : {address} est une adresse interdite ({kind}). "
        "Indiquez une adresse publique.",
        "en": "Webhook URL refused: {address} is not a public address (loopback, link-local, "
        "private, reserved or metadata service). Give a public address.",
    },
    "webhook.url_unresolvable": {
        "fr": "Nom d'hôte introuvable pour le webhook : « {host} ». Vérifiez l'adresse.",
        "en": "Webhook host name not found: '{host}'. Check the address.",
    },
    "webhook.event_types": {
        "fr": "Types d'événements inconnus ou non disponibles en webhook : {types}. "
        "Liste : GET /v1/subscriptions/event-types.",
        "en": "Unknown event types, or not available as webhooks: {types}. "
        "List: GET /v1/subscriptions/event-types.",
    },
    "webhook.secret": {
        "fr": "Secret invalide : il doit être de la forme whsec_ suivi de 24 à 64 octets "
        "aléatoires en base64.",
        "en": "Invalid secret: it must be whsec_ followed by 24 to 64 random bytes in base64.",
    },
    "notify.unsubscribe_invalid": {
        "fr": "Lien de désabonnement invalide : ouvrez le lien complet reçu par e-mail.",
        "en": "Invalid unsubscribe link: open the full link you received by email.",
    },
}


def negotiate(accept_language: str | None, override: str | None = None) -> Lang:
    if override in ("fr", "en"):
        return override  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in ("fr", "en"):
            return tag  # type: ignore[return-value]
    return "fr"


def translate(key: str, lang: Lang = "fr", **params: object) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry[lang].format(**params)
