"""A project's journey as a person reads it: French, one line per step, and the chain as a tree.

Pure: the input is the JSON of `GET /v1/projects/{id}/timeline` and the labels (coded reasons
and outcomes, member names the timeline may lack); the output is plain data (`journey_steps`)
or rich renderables (`render_journey`). No I/O, no clock: times are shown in Europe/Paris.

A redirect is one step ("X a réorienté vers Y"): the service records it as the new referral's
`send` (with `redirected_from`) and the old one's `decline` (reason `reoriente_ailleurs`, with
`redirected_to`); the decline is folded into the send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from services.referral.domain import DECLINE_REASONS, FAILURE_REASONS, OUTCOMES

PARIS = ZoneInfo("Europe/Paris")
SYSTEM = "Relais"  # who acts when no member does (expiry, cancellation on consent withdrawal)
PORTEUR = "porteur"  # the sender of a self-referral (services.referral.handlers.porteur)
REDIRECTED = "reoriente_ailleurs"

# What the orientation is after each status, for the tree ("l'orientation est …").
STATUS_LABELS: dict[str, str] = {
    "sent": "envoyée, sans réponse",
    "info_requested": "précisions demandées",
    "accepted": "acceptée",
    "declined": "déclinée",
    "cancelled": "annulée",
    "expired": "expirée",
    "in_progress": "accompagnement en cours",
    "on_hold": "accompagnement en pause",
    "completed": "clôturée",
    "failed": "arrêtée",
}

# What the actor did, for the steps ("<structure> a accepté").
ACTION_LABELS: dict[str, str] = {
    "send": "a orienté vers",
    "redirect": "a réorienté vers",
    "accept": "a accepté",
    "decline": "a décliné",
    "request-info": "a demandé des précisions",
    "provide-info": "a apporté les précisions demandées",
    "start": "a démarré l'accompagnement",
    "hold": "a mis l'accompagnement en pause",
    "resume": "a repris l'accompagnement",
    "complete": "a clôturé",
    "fail": "a arrêté l'accompagnement",
    "cancel": "a annulé l'orientation",
    "expire": "l'orientation a expiré sans réponse",
    "assign": "a confié l'orientation à un·e conseiller·ère",
}


def _french(table: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    return {code: labels[0] for code, labels in table.items()}


@dataclass(frozen=True)
class Labels:
    """Everything the rendering names: codes to French labels, member ids to names."""

    decline_reasons: Mapping[str, str] = field(default_factory=lambda: _french(DECLINE_REASONS))
    outcomes: Mapping[str, str] = field(default_factory=lambda: _french(OUTCOMES))
    failure_reasons: Mapping[str, str] = field(default_factory=lambda: _french(FAILURE_REASONS))
    members: Mapping[str, str] = field(default_factory=dict)  # when the timeline has no name
    statuses: Mapping[str, str] = field(default_factory=lambda: dict(STATUS_LABELS))
    actions: Mapping[str, str] = field(default_factory=lambda: dict(ACTION_LABELS))
    porteur: str = "la personne porteuse du projet"


@dataclass(frozen=True)
class Step:
    """One line: at (Europe/Paris), who, did what, to whom, with which detail."""

    at: datetime
    referral_number: int
    actor: str
    verb: str
    target: str | None = None
    detail: str = ""

    @property
    def sentence(self) -> str:
        target = f" {self.target}" if self.target else ""
        actor = f"{self.actor} " if self.actor else ""
        return f"{actor}{self.verb}{target}{self.detail}"

    @property
    def when(self) -> str:
        return f"{self.at:%d/%m/%Y %H:%M:%S}"

    def phrase(self) -> Text:
        """The sentence, structure names in bold."""
        line = Text()
        if self.actor:
            line.append(self.actor, style="bold")
            line.append(" ")
        line.append(self.verb)
        if self.target:
            line.append(" ")
            line.append(self.target, style="bold")
        line.append(self.detail)
        return line

    def text(self) -> Text:
        """The whole line: date and time, sentence, the referral's number."""
        line = Text(self.when, style="dim")
        line.append("  ")
        line.append_text(self.phrase())
        line.append(f"  #{self.referral_number}", style="dim")
        return line


# --- formatting ---------------------------------------------------------------------------


def euros(amount: int) -> str:
    """15000 -> '15 000 €' (narrow no-break space between thousands, no-break before €)."""
    return f"{amount:,}".replace(",", "\u202f") + "\u00a0€"


def jobs(count: int) -> str:
    return f"{count} emploi" + ("s" if count > 1 else "")


def at_paris(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # the API gives aware UTC times; be lenient all the same
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(PARIS)


def outcome_text(details: Mapping[str, Any], labels: Labels) -> str:
    """'Financement obtenu, 15 000 €, 2 emplois'."""
    outcome = details.get("outcome")
    parts = [labels.outcomes.get(outcome, outcome)] if outcome else []
    if details.get("funding_amount_eur") is not None:
        parts.append(euros(int(details["funding_amount_eur"])))
    if details.get("jobs_created") is not None:
        parts.append(jobs(int(details["jobs_created"])))
    return ", ".join(parts)


# --- the timeline's shape -------------------------------------------------------------------


@dataclass
class _Journey:
    timeline: Mapping[str, Any]
    labels: Labels
    referrals: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    number: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, referral in enumerate(self.timeline.get("referrals", []), start=1):
            self.referrals[referral["id"]] = referral
            self.number[referral["id"]] = index

    def name(self, member_id: str | None, known: str | None = None) -> str:
        if member_id is None:
            return SYSTEM
        if member_id == PORTEUR:
            return self.labels.porteur
        return known or self.labels.members.get(member_id) or member_id

    def sender(self, referral_id: str) -> str:
        r = self.referrals.get(referral_id, {})
        return self.name(r.get("from"), r.get("from_name"))

    def receiver(self, referral_id: str) -> str:
        r = self.referrals.get(referral_id, {})
        return self.name(r.get("to"), r.get("to_name"))

    def folded(self, event: Mapping[str, Any]) -> bool:
        """A redirect's decline: its new referral's send already says it."""
        details = event.get("details") or {}
        return (
            event.get("action") == "decline"
            and details.get("reason") == REDIRECTED
            and details.get("redirected_to") in self.referrals
        )

    def step(self, event: Mapping[str, Any]) -> Step:
        labels, action = self.labels, str(event.get("action"))
        referral_id = str(event.get("referral_id"))
        details: Mapping[str, Any] = event.get("details") or {}
        actor = self.name(event.get("member_id"), event.get("member_name"))
        verb, target, detail = labels.actions.get(action, action), None, ""
        if action == "send":
            target = self.receiver(referral_id)
            if details.get("redirected_from") or self.referrals.get(referral_id, {}).get(
                "redirected_from"
            ):
                verb = labels.actions["redirect"]
        elif action == "decline":
            reason = details.get("reason")
            detail = f" ({labels.decline_reasons.get(reason, reason)})" if reason else ""
        elif action == "complete":
            text = outcome_text(details, labels)
            detail = f" : {text}" if text else ""
        elif action == "fail":
            reason = details.get("reason")
            detail = f" ({labels.failure_reasons.get(reason, reason)})" if reason else ""
        elif action == "cancel" and details.get("cause") == "consentement_retire":
            actor, detail = SYSTEM, " (consentement retiré)"
        elif action == "expire":
            actor, verb = "", f"L'orientation de {self.sender(referral_id)} a expiré sans réponse"
        return Step(
            at=at_paris(event["at"]),
            referral_number=self.number.get(referral_id, 0),
            actor=actor,
            verb=verb,
            target=target,
            detail=detail,
        )

    def last_detail(self, referral_id: str) -> str:
        """Why the referral ended where it did: decline reason, outcome, failure reason."""
        for event in reversed(self.timeline.get("events", [])):
            if event.get("referral_id") != referral_id:
                continue
            details = event.get("details") or {}
            if event.get("action") == "decline" and details.get("reason"):
                reason = details["reason"]
                return f" ({self.labels.decline_reasons.get(reason, reason)})"
            if event.get("action") == "complete":
                text = outcome_text(details, self.labels)
                return f" : {text}" if text else ""
            if event.get("action") == "fail" and details.get("reason"):
                reason = details["reason"]
                return f" ({self.labels.failure_reasons.get(reason, reason)})"
        return ""

    def node(self, referral_id: str, *, redirected: bool) -> Text:
        r = self.referrals[referral_id]
        status = self.labels.statuses.get(str(r.get("status")), str(r.get("status")))
        line = Text()
        line.append(f"#{self.number[referral_id]} ", style="dim")
        if redirected:
            line.append("réorientée : ", style="italic")
        line.append(self.sender(referral_id), style="bold")
        line.append(" → ")
        line.append(self.receiver(referral_id), style="bold")
        line.append(f" — {status}{self.last_detail(referral_id)}")
        return line

    def children(self) -> dict[str, list[str]]:
        """Parent referral -> the referrals it led to (edges of the timeline, deduplicated)."""
        found: dict[str, list[str]] = {}
        for edge in self.timeline.get("edges", []):
            parent, child = edge.get("from"), edge.get("to")
            if parent in self.referrals and child in self.referrals and parent != child:
                kids = found.setdefault(parent, [])
                if child not in kids:
                    kids.append(child)
        for kids in found.values():
            kids.sort(key=lambda k: self.number[k])
        return found


# --- the public functions -----------------------------------------------------------------


def journey_steps(timeline: Mapping[str, Any], labels: Labels | None = None) -> list[Step]:
    """One step per transition, in the timeline's order (redirects counted once)."""
    journey = _Journey(timeline, labels or Labels())
    return [journey.step(e) for e in timeline.get("events", []) if not journey.folded(e)]


def journey_tree(
    timeline: Mapping[str, Any], labels: Labels | None = None, *, title: str | None = None
) -> Tree:
    """The chain: each referral under the one that led to it (a redirect, or the next step
    of the journey once a member the project reached orients it onward)."""
    journey = _Journey(timeline, labels or Labels())
    root = Tree(Text(title or f"Parcours du projet {timeline.get('project_id', '')}", "bold"))
    children = journey.children()
    has_parent = {child for kids in children.values() for child in kids}
    placed: set[str] = set()

    def place(branch: Tree, referral_id: str, redirected: bool) -> None:
        if referral_id in placed:  # a malformed graph must not loop
            return
        placed.add(referral_id)
        node = branch.add(journey.node(referral_id, redirected=redirected))
        for child in children.get(referral_id, []):
            redirect = journey.referrals[child].get("redirected_from") == referral_id
            place(node, child, redirect)

    for referral_id in journey.referrals:
        if referral_id not in has_parent:
            place(root, referral_id, False)
    for referral_id in journey.referrals:  # whatever a cycle kept out
        if referral_id not in placed:
            place(root, referral_id, False)
    return root


def render_journey(
    timeline: Mapping[str, Any], labels: Labels | None = None, *, title: str | None = None
) -> Group:
    """The steps, one line each, then the chain as a tree."""
    labels = labels or Labels()
    steps = journey_steps(timeline, labels)
    heading = Text(title or "Parcours", style="bold underline")
    # A grid, so that a long sentence wraps under itself, not under the date.
    lines = Table.grid(padding=(0, 2))
    lines.add_column(no_wrap=True, style="dim")
    lines.add_column()
    lines.add_column(no_wrap=True, style="dim")
    for step in steps:
        lines.add_row(step.when, step.phrase(), f"#{step.referral_number}")
    if not steps:
        lines.add_row("", Text("Aucune étape.", style="dim"), "")
    tree_title = "Qui a orienté vers qui"
    return Group(
        heading,
        Text(""),
        lines,
        Text(""),
        journey_tree(timeline, labels, title=tree_title),
    )
