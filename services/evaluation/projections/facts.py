"""The projector: folds consumed events into facts, pure and order-independent (no I/O).

A referral's fact keeps the time of each transition it went through (the earliest, should an
event come twice) and the values that came with it; its status and durations are derived
from those times, never stored as a running state. So folding the same events in any order,
any number of times, gives the same fact: duplicates, late events and journeys interleaved
with other journeys change nothing. The live handlers and the rebuild use this same code on
the raw event data (`type`, `time`, `data` dict as archived), so both give the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.events import directory as d
from contracts.events import referral as r
from services.kit.clock import PARIS

# commune INSEE code -> (département, EPCI SIREN or "")
TerritoryOf = Callable[[str], tuple[str, str]]

NO_TERRITORY: tuple[str, str] = ("", "")

# event type -> the fact's time field that event sets
TRANSITIONS: dict[str, str] = {
    r.ReferralSent.type_name: "sent_at",
    r.ReferralAccepted.type_name: "accepted_at",
    r.ReferralDeclined.type_name: "declined_at",
    r.ReferralInfoRequested.type_name: "info_requested_at",
    r.ReferralCancelled.type_name: "cancelled_at",
    r.ReferralExpired.type_name: "expired_at",
    r.ReferralStarted.type_name: "started_at",
    r.ReferralCompleted.type_name: "completed_at",
    r.ReferralFailed.type_name: "failed_at",
}
TERMINAL_FIELDS = ("declined_at", "cancelled_at", "expired_at", "completed_at", "failed_at")
MEMBER_TYPES = frozenset({d.MemberRegistered.type_name, d.MemberUpdated.type_name})
SEARCH_TYPE = d.SearchStatistics.type_name
# every type the projector reads: the consumers route these, the rebuild replays them
PROJECTED_TYPES = frozenset(TRANSITIONS) | MEMBER_TYPES | {SEARCH_TYPE}
# declines that say the network lacks room or reach: unmet demand
UNMET_REASONS = frozenset({"capacite_atteinte", "hors_territoire"})
REDIRECT_REASON = "reoriente_ailleurs"
ABANDONED = "projet_abandonne"


@dataclass(slots=True)
class ReferralFact:
    referral_id: str
    project_id: str = ""
    sender_member_id: str = ""
    receiver_member_id: str = ""
    # from referral.sent (empty until it arrives)
    network_id: str = ""
    stage: str = ""
    commune: str = ""
    departement: str = ""
    epci: str = ""
    redirected_from: str = ""
    month: str = ""  # Europe/Paris month of sent_at ('YYYY-MM'), kept with it
    # transition times (the earliest seen) and their values
    sent_at: datetime | None = None
    accepted_at: datetime | None = None
    declined_at: datetime | None = None
    decline_reason: str = ""
    redirected_to: str = ""
    info_requested_at: datetime | None = None
    cancelled_at: datetime | None = None
    expired_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    outcome: str = ""
    jobs_created: int = 0
    failed_at: datetime | None = None
    failure_reason: str = ""

    # --- derived ------------------------------------------------------------------------

    @property
    def terminal(self) -> str | None:
        """The terminal transition (the earliest, should the log hold two)."""
        ends = [(t, name) for name in TERMINAL_FIELDS if (t := getattr(self, name)) is not None]
        return min(ends)[1].removesuffix("_at") if ends else None

    @property
    def status(self) -> str:
        end = self.terminal
        if end:
            return end
        if self.started_at:
            return "in_progress"
        if self.accepted_at:
            return "accepted"
        if self.info_requested_at:
            return "info_requested"
        return "sent"

    @property
    def first_answer_at(self) -> datetime | None:
        answers = [t for t in (self.accepted_at, self.declined_at, self.info_requested_at) if t]
        return min(answers) if answers else None

    @property
    def waiting_since(self) -> datetime | None:
        """Accepted and not started nor ended: the clock of the 'stuck' count."""
        return self.accepted_at if self.status == "accepted" else None

    @property
    def stops(self) -> bool:
        """The journey stops here: ended without success and not handed on elsewhere."""
        end = self.terminal
        if end == "declined":
            return not (self.redirected_to or self.decline_reason == REDIRECT_REASON)
        if end == "completed":
            return self.outcome == ABANDONED
        return end in ("cancelled", "expired", "failed")


def month_of(moment: datetime) -> str:
    """The Europe/Paris calendar month of a moment, 'YYYY-MM'."""
    local = moment.astimezone(PARIS)
    return f"{local.year:04d}-{local.month:02d}"


def _later_wins(old: str, new: str) -> str:
    return max(old, new)


def fold_referral(
    fact: ReferralFact | None,
    type_name: str,
    time: datetime,
    data: Mapping[str, Any],
    territory_of: TerritoryOf,
) -> ReferralFact:
    """The fact after this event (a new fact when `fact` is None). Commutative, idempotent."""
    if fact is None:
        fact = ReferralFact(referral_id=data["referral_id"])
    fact.project_id = fact.project_id or data.get("project_id", "")
    fact.sender_member_id = fact.sender_member_id or data.get("sender_member_id", "")
    fact.receiver_member_id = fact.receiver_member_id or data.get("receiver_member_id", "")
    name = TRANSITIONS[type_name]
    before: datetime | None = getattr(fact, name)
    if before is not None and time > before:
        return fact  # a later copy of a transition already known: nothing to learn
    first = before is None or time < before
    setattr(fact, name, time)
    if type_name == r.ReferralSent.type_name:
        fact.month = month_of(time)
        commune = data.get("commune") or ""
        dep, epci = territory_of(commune) if commune else NO_TERRITORY
        values = {
            "network_id": data.get("network_id") or "",
            "stage": data.get("stage") or "",
            "commune": commune,
            "departement": dep,
            "epci": epci,
            "redirected_from": data.get("redirected_from") or "",
        }
    elif type_name == r.ReferralDeclined.type_name:
        values = {
            "decline_reason": data.get("reason") or "",
            "redirected_to": data.get("redirected_to") or "",
        }
    elif type_name == r.ReferralCompleted.type_name:
        values = {"outcome": data.get("outcome") or ""}
        fact.jobs_created = (
            int(data.get("jobs_created") or 0)
            if first
            else max(fact.jobs_created, int(data.get("jobs_created") or 0))
        )
    elif type_name == r.ReferralFailed.type_name:
        values = {"failure_reason": data.get("reason") or ""}
    else:
        values = {}
    for key, value in values.items():
        # same time twice (a duplicate): keep a deterministic value whatever came first
        setattr(fact, key, value if first else _later_wins(getattr(fact, key), value))
    return fact


@dataclass(slots=True)
class MemberFact:
    """What evaluation knows of a member (from the directory): networks, schemes, address."""

    member_id: str
    name: str = ""
    network_ids: list[str] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)
    commune: str = ""
    as_of: datetime | None = None
    as_of_event: str = ""


def fold_member(
    fact: MemberFact | None, event_id: str, time: datetime, data: Mapping[str, Any]
) -> MemberFact:
    """Last write wins by (event time, event id): any order gives the latest description."""
    if fact is None:
        fact = MemberFact(member_id=data["member_id"])
    if fact.as_of is not None and (time, event_id) <= (fact.as_of, fact.as_of_event):
        return fact
    fact.name = data.get("name") or ""
    fact.network_ids = sorted(data.get("network_ids") or [])
    fact.schemes = sorted(data.get("schemes") or [])
    fact.commune = data.get("commune") or ""
    fact.as_of, fact.as_of_event = time, event_id
    return fact


SearchKey = tuple[str, str, str, str, str]  # period start, period end, level, code, stage


@dataclass(slots=True)
class SearchFact:
    """One aggregate of match searches: the same period and territory is the same figure."""

    period_start: str
    period_end: str
    level: str
    code: str
    stage: str
    departement: str = ""
    epci: str = ""
    month: str = ""
    searches: int = 0
    searches_without_result: int = 0

    @property
    def key(self) -> SearchKey:
        return (self.period_start, self.period_end, self.level, self.code, self.stage)


def search_fact(data: Mapping[str, Any], territory_of: TerritoryOf) -> SearchFact:
    territory = data.get("territory") or {}
    level, code = str(territory.get("level", "")), str(territory.get("code", ""))
    dep, epci = "", ""
    if level == "commune":
        dep, epci = territory_of(code)
    elif level == "epci":
        epci = code
    elif level == "departement":
        dep = code
    start = str(data.get("period_start", ""))
    return SearchFact(
        period_start=start,
        period_end=str(data.get("period_end", "")),
        level=level,
        code=code,
        stage=data.get("stage") or "",
        departement=dep,
        epci=epci,
        month=start[:7],
        searches=int(data.get("searches") or 0),
        searches_without_result=int(data.get("searches_without_result") or 0),
    )


@dataclass
class Projection:
    """Everything the projector knows, in memory: what a rebuild folds the archive into."""

    referrals: dict[str, ReferralFact] = field(default_factory=dict)
    members: dict[str, MemberFact] = field(default_factory=dict)
    searches: dict[SearchKey, SearchFact] = field(default_factory=dict)
    events: int = 0

    def fold(
        self,
        event_id: str,
        type_name: str,
        time: datetime,
        data: Mapping[str, Any],
        territory_of: TerritoryOf,
    ) -> None:
        self.events += 1
        if type_name in TRANSITIONS:
            referral_id = data["referral_id"]
            self.referrals[referral_id] = fold_referral(
                self.referrals.get(referral_id), type_name, time, data, territory_of
            )
        elif type_name in MEMBER_TYPES:
            member_id = data["member_id"]
            self.members[member_id] = fold_member(self.members.get(member_id), event_id, time, data)
        elif type_name == SEARCH_TYPE:
            fact = search_fact(data, territory_of)
            self.searches[fact.key] = fact

    def fold_all(
        self,
        events: Iterable[tuple[str, str, datetime, Mapping[str, Any]]],
        territory_of: TerritoryOf,
    ) -> None:
        for event_id, type_name, time, data in events:
            self.fold(event_id, type_name, time, data, territory_of)
