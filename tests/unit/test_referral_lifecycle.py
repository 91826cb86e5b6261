"""The referral lifecycle of DESIGN.md, enforced by the domain (no I/O).

The table below is written from DESIGN.md, independently of `domain.TRANSITIONS`, so that the
two are checked against each other: every allowed move per party, a refusal (409 naming the
allowed actions) for everything else, and terminal states that refuse everything.
"""

from __future__ import annotations

import itertools

import pytest

from services.kit.errors import ApiError
from services.referral import domain
from services.referral.domain import Party, Status

S, R, SYS = Party.sender, Party.receiver, Party.system

# (from, action, by) -> to, as DESIGN.md says it:
#   sent -> accepted | declined | cancelled | expired | info_requested
#   info_requested -> sent (the sender answered) | declined | cancelled
#   accepted -> in_progress | on_hold | cancelled | completed | failed
#   in_progress -> completed | failed | cancelled | on_hold
#   on_hold -> in_progress | cancelled | completed | failed
# The receiver accepts, declines, starts, holds, completes or fails; the sender cancels
# (until the referral completes or fails) and answers an information request; the system
# expires an unanswered referral.
DESIGN: dict[tuple[str, str, Party], str] = {
    ("sent", "accept", R): "accepted",
    ("sent", "decline", R): "declined",
    ("sent", "request-info", R): "info_requested",
    ("sent", "cancel", S): "cancelled",
    ("sent", "expire", SYS): "expired",
    ("info_requested", "provide-info", S): "sent",
    ("info_requested", "decline", R): "declined",
    ("info_requested", "cancel", S): "cancelled",
    ("accepted", "start", R): "in_progress",
    ("accepted", "hold", R): "on_hold",
    ("accepted", "complete", R): "completed",
    ("accepted", "fail", R): "failed",
    ("accepted", "cancel", S): "cancelled",
    ("in_progress", "complete", R): "completed",
    ("in_progress", "fail", R): "failed",
    ("in_progress", "hold", R): "on_hold",
    ("in_progress", "cancel", S): "cancelled",
    ("on_hold", "resume", R): "in_progress",
    ("on_hold", "complete", R): "completed",
    ("on_hold", "fail", R): "failed",
    ("on_hold", "cancel", S): "cancelled",
}
TERMINAL = ("declined", "cancelled", "expired", "completed", "failed")
ACTIONS = sorted({action for _, action, _ in DESIGN} | {"redirect", "nonsense"})
PARTIES = (S, R, SYS)


@pytest.mark.parametrize(
    ("source", "action", "party"), list(DESIGN), ids=[f"{s}-{a}-{p}" for s, a, p in DESIGN]
)
def test_every_allowed_transition(source: str, action: str, party: Party) -> None:
    assert domain.transition(Status(source), action, party) == Status(DESIGN[source, action, party])


def test_allowed_actions_per_status_and_party_match_the_design() -> None:
    for status, party in itertools.product(Status, PARTIES):
        expected = sorted(a for (s, a, p) in DESIGN if s == status.value and p == party)
        assert sorted(domain.allowed_actions(status, party)) == expected, (status, party)


REFUSED = [
    ("sent", "start", R),  # not accepted yet
    ("sent", "accept", S),  # the sender cannot accept its own referral
    ("sent", "complete", R),
    ("sent", "provide-info", S),  # nothing was asked
    ("sent", "expire", R),  # only the system expires
    ("info_requested", "accept", R),  # the sender must answer first
    ("info_requested", "expire", SYS),  # the expiry clock is stopped
    ("info_requested", "request-info", R),
    ("accepted", "accept", R),
    ("accepted", "decline", R),  # accepted: fail or complete, not decline
    ("accepted", "resume", R),
    ("accepted", "expire", SYS),
    ("in_progress", "start", R),
    ("in_progress", "resume", R),
    ("in_progress", "complete", S),  # completion is the receiver's
    ("on_hold", "hold", R),
    ("on_hold", "start", R),
    ("on_hold", "resume", S),
    ("sent", "nonsense", R),
]


@pytest.mark.parametrize(
    ("source", "action", "party"), REFUSED, ids=[f"{s}-{a}-{p}" for s, a, p in REFUSED]
)
def test_refused_transitions_are_409_naming_the_allowed_actions(
    source: str, action: str, party: Party
) -> None:
    with pytest.raises(ApiError) as refused:
        domain.transition(Status(source), action, party)
    error = refused.value
    assert error.status == 409
    assert error.code == "referral.transition"
    allowed = sorted(a for (s, a, p) in DESIGN if s == source and p == party)
    assert sorted(error.details["allowed"]) == allowed
    assert error.details["status"] == source
    assert error.params["current"] == source and error.params["action"] == action
    named = str(error.params["allowed"])
    assert all(a in named for a in allowed)
    if not allowed:
        assert named == "aucune"


@pytest.mark.parametrize("terminal", TERMINAL)
def test_terminal_states_refuse_everything(terminal: str) -> None:
    status = Status(terminal)
    assert status in domain.TERMINAL and status not in domain.OPEN
    for party in PARTIES:
        assert domain.allowed_actions(status, party) == []
        for action in ACTIONS:
            with pytest.raises(ApiError) as refused:
                domain.transition(status, action, party)
            assert refused.value.status == 409
            assert refused.value.details == {"status": terminal, "allowed": []}


def test_the_state_sets_partition_the_statuses() -> None:
    assert {s.value for s in domain.TERMINAL} == set(TERMINAL)
    assert domain.OPEN | domain.TERMINAL == frozenset(Status)
    assert not domain.OPEN & domain.TERMINAL
    # every status of the design is reachable from `sent`
    reached, frontier = {"sent"}, ["sent"]
    while frontier:
        source = frontier.pop()
        for (s, _, _), target in DESIGN.items():
            if s == source and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == {s.value for s in Status}


def test_the_sender_may_cancel_until_completion_or_failure() -> None:
    for status in Status:
        can_cancel = "cancel" in domain.allowed_actions(status, S)
        assert can_cancel == (status in domain.OPEN), status


def test_an_error_message_names_the_allowed_actions_in_french_and_english() -> None:
    from services.kit.i18n import translate

    with pytest.raises(ApiError) as refused:
        domain.transition(Status.sent, "start", R)
    french = translate(refused.value.code, "fr", **refused.value.params)
    english = translate(refused.value.code, "en", **refused.value.params)
    assert "start" in french and "sent" in french
    for action in ("accept", "decline", "request-info"):
        assert action in french and action in english


@pytest.mark.parametrize(
    ("table", "code"),
    [
        (domain.DECLINE_REASONS, "hors_territoire"),
        (domain.DECLINE_REASONS, "reoriente_ailleurs"),
        (domain.OUTCOMES, "financement_obtenu"),
        (domain.FAILURE_REASONS, "porteur_injoignable"),
    ],
)
def test_coded_reasons_are_checked(table: dict[str, tuple[str, str]], code: str) -> None:
    assert domain.check_code(table, code, "motif") == code
    with pytest.raises(ApiError) as unknown:
        domain.check_code(table, "pas-un-code", "motif")
    assert unknown.value.status == 422
    assert code in str(unknown.value.params["summary"])  # the known codes are listed


def test_the_issue_codes_are_all_there() -> None:
    assert set(domain.DECLINE_REASONS) == {
        "hors_territoire",
        "hors_stade",
        "capacite_atteinte",
        "dossier_incomplet",
        "hors_champ_ess",
        "reoriente_ailleurs",
        "autre",
    }
    assert set(domain.OUTCOMES) == {
        "structure_creee",
        "activite_lancee",
        "financement_obtenu",
        "projet_abandonne",
        "reoriente",
        "autre",
    }
    assert set(domain.FAILURE_REASONS) == {"porteur_injoignable", "abandon", "autre"}
    for table in (domain.DECLINE_REASONS, domain.OUTCOMES, domain.FAILURE_REASONS):
        assert all(code.isascii() for code in table)
        assert all(fr and en for fr, en in table.values())


def test_a_referral_belongs_to_a_network_both_members_share_else_the_receivers() -> None:
    from services.referral.domain import referral_network

    assert referral_network(["essor", "tremplin"], ["tremplin", "zeste"]) == "tremplin"
    assert referral_network(["essor"], ["zeste", "tremplin"]) == "tremplin"
    assert referral_network([], []) is None
