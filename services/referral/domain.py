"""The referral lifecycle and its codes, as data (no I/O).

Modelled on the closed-loop referral Task of the HL7 Gravity SDOH IG: who may do what from
which status, with coded reasons and outcomes (labels in French and English are data).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.kit.errors import ApiError


class Status(StrEnum):
    sent = "sent"
    info_requested = "info_requested"
    accepted = "accepted"
    declined = "declined"
    cancelled = "cancelled"
    expired = "expired"
    in_progress = "in_progress"
    on_hold = "on_hold"
    completed = "completed"
    failed = "failed"


TERMINAL = frozenset(
    {Status.declined, Status.cancelled, Status.expired, Status.completed, Status.failed}
)
OPEN = frozenset(Status) - TERMINAL


class Party(StrEnum):
    sender = "sender"
    receiver = "receiver"
    system = "system"


@dataclass(frozen=True)
class Transition:
    action: str
    by: Party
    sources: frozenset[Status]
    target: Status


_S = Status
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("accept", Party.receiver, frozenset({_S.sent}), _S.accepted),
        Transition("decline", Party.receiver, frozenset({_S.sent, _S.info_requested}), _S.declined),
        Transition("request-info", Party.receiver, frozenset({_S.sent}), _S.info_requested),
        Transition("provide-info", Party.sender, frozenset({_S.info_requested}), _S.sent),
        Transition("start", Party.receiver, frozenset({_S.accepted}), _S.in_progress),
        Transition("hold", Party.receiver, frozenset({_S.accepted, _S.in_progress}), _S.on_hold),
        Transition("resume", Party.receiver, frozenset({_S.on_hold}), _S.in_progress),
        Transition(
            "complete",
            Party.receiver,
            frozenset({_S.accepted, _S.in_progress, _S.on_hold}),
            _S.completed,
        ),
        Transition(
            "fail", Party.receiver, frozenset({_S.accepted, _S.in_progress, _S.on_hold}), _S.failed
        ),
        Transition(
            "cancel",
            Party.sender,
            frozenset({_S.sent, _S.info_requested, _S.accepted, _S.in_progress, _S.on_hold}),
            _S.cancelled,
        ),
        Transition("expire", Party.system, frozenset({_S.sent}), _S.expired),
    )
}

DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "hors_territoire": ("Hors territoire", "Outside our territory"),
    "hors_stade": ("Hors stade", "Wrong stage"),
    "capacite_atteinte": ("Capacité atteinte", "No capacity"),
    "dossier_incomplet": ("Dossier incomplet", "Incomplete file"),
    "hors_champ_ess": ("Hors champ ESS", "Outside the social economy"),
    "reoriente_ailleurs": ("Réorienté ailleurs", "Redirected elsewhere"),
    "autre": ("Autre", "Other"),
}
OUTCOMES: dict[str, tuple[str, str]] = {
    "structure_creee": ("Structure créée", "Structure created"),
    "activite_lancee": ("Activité lancée", "Activity launched"),
    "financement_obtenu": ("Financement obtenu", "Funding obtained"),
    "projet_abandonne": ("Projet abandonné", "Project abandoned"),
    "reoriente": ("Réorienté", "Redirected"),
    "autre": ("Autre", "Other"),
}
FAILURE_REASONS: dict[str, tuple[str, str]] = {
    "porteur_injoignable": ("Porteur injoignable", "Project carrier unreachable"),
    "abandon": ("Abandon", "Abandoned"),
    "autre": ("Autre", "Other"),
}
CONSENT_SCOPES: dict[str, tuple[str, str]] = {
    "partage_structure_destinataire": (
        "Partage du dossier avec la structure destinataire",
        "Sharing the file with the receiving member",
    ),
    "contact_par_structure": ("Être contacté·e par la structure", "Being contacted by the member"),
    "suivi_statistique": ("Suivi statistique anonyme", "Anonymous statistics"),
}
STAGES = ("idee", "faisabilite", "creation", "developpement", "consolidation", "difficulte_rebond")


def referral_network(sender_networks: list[str], receiver_networks: list[str]) -> str | None:
    """The network a referral belongs to: one both members share, else the receiver's."""
    shared = sorted(set(sender_networks) & set(receiver_networks))
    if shared:
        return shared[0]
    return min(receiver_networks) if receiver_networks else None


def allowed_actions(status: Status, party: Party) -> list[str]:
    return [a for a, t in TRANSITIONS.items() if status in t.sources and t.by == party]


def transition(status: Status, action: str, party: Party) -> Status:
    """The next status, or a 409 that names what is allowed from here (for this party)."""
    rule = TRANSITIONS.get(action)
    if rule is None or rule.by != party or status not in rule.sources:
        allowed = allowed_actions(status, party)
        raise ApiError(
            409,
            "referral.transition",
            action=action,
            current=status.value,
            allowed=", ".join(allowed) or "aucune",
            details={"status": status.value, "allowed": allowed},
        )
    return rule.target


def check_code(table: dict[str, tuple[str, str]], code: str, what: str) -> str:
    if code not in table:
        raise ApiError(
            422, "validation", summary=f"{what} inconnu « {code} » ; codes : {', '.join(table)}"
        )
    return code
