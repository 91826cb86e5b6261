"""The journey as a person reads it (`relais demo`): a pure rendering of the timeline JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from services.cli.journey import Labels, euros, jobs, journey_steps, journey_tree, render_journey

PIVA, DLA, STARTER, INCUB, FUND = "mbr_piva", "mbr_dla", "mbr_starter", "mbr_incub", "mbr_fund"
NAMES = {
    PIVA: "Point PIVA+ Santerre",
    DLA: "DLA Somme",
    STARTER: "Starter ESS Somme",
    INCUB: "Incubateur Amiens",
    FUND: "Fonds solidaire Picardie",
}


def _referral(rid: str, sender: str, receiver: str, status: str, **more: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "from": sender,
        "from_name": NAMES.get(sender),
        "to": receiver,
        "to_name": NAMES.get(receiver),
        "status": status,
        "sent_at": "2026-03-03T13:00:00Z",
        "redirected_from": more.get("redirected_from"),
        "redirected_to": more.get("redirected_to"),
    }


def _event(at: str, rid: str, action: str, member: str | None, **details: Any) -> dict[str, Any]:
    return {
        "at": at,
        "referral_id": rid,
        "action": action,
        "from_status": None,
        "to_status": "x",
        "actor": f"member:{member}",
        "member_id": member,
        "member_name": NAMES.get(member or ""),
        "details": details,
    }


# The chain of the issue, as GET /v1/projects/{id}/timeline answers it (times in UTC).
TIMELINE: dict[str, Any] = {
    "project_id": "prj_demo",
    "referrals": [
        _referral("ref_1", PIVA, DLA, "declined"),
        _referral("ref_2", PIVA, STARTER, "completed"),
        _referral("ref_3", STARTER, INCUB, "declined", redirected_to="ref_4"),
        _referral("ref_4", INCUB, FUND, "completed", redirected_from="ref_3"),
    ],
    "edges": [{"from": "ref_3", "to": "ref_4"}, {"from": "ref_2", "to": "ref_3"}],
    "events": [
        _event("2026-03-03T13:05:03Z", "ref_1", "send", PIVA),
        _event("2026-03-04T08:00:00Z", "ref_1", "decline", DLA, reason="hors_stade"),
        _event("2026-03-04T09:30:00Z", "ref_2", "send", PIVA),
        _event("2026-03-05T10:00:00Z", "ref_2", "accept", STARTER),
        _event("2026-03-06T10:00:00Z", "ref_2", "start", STARTER),
        _event(
            "2026-06-01T15:00:00+00:00", "ref_2", "complete", STARTER, outcome="activite_lancee"
        ),
        _event("2026-06-02T09:00:00Z", "ref_3", "send", STARTER),
        _event("2026-06-10T09:00:00Z", "ref_4", "send", INCUB, redirected_from="ref_3"),
        _event(
            "2026-06-10T09:00:01Z",
            "ref_3",
            "decline",
            INCUB,
            reason="reoriente_ailleurs",
            redirected_to="ref_4",
        ),
        _event("2026-06-12T09:00:00Z", "ref_4", "accept", FUND),
        _event("2026-06-12T09:10:00Z", "ref_4", "start", FUND),
        _event(
            "2026-09-30T16:45:00Z",
            "ref_4",
            "complete",
            FUND,
            outcome="financement_obtenu",
            funding_amount_eur=15000,
            jobs_created=2,
        ),
    ],
}


def _plain(renderable: Any) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_one_line_per_step_in_french_in_order_with_paris_time() -> None:
    steps = journey_steps(TIMELINE)
    assert [(s.when, s.sentence, s.referral_number) for s in steps] == [
        ("03/03/2026 14:05:03", "Point PIVA+ Santerre a orienté vers DLA Somme", 1),
        ("04/03/2026 09:00:00", "DLA Somme a décliné (Hors stade)", 1),
        ("04/03/2026 10:30:00", "Point PIVA+ Santerre a orienté vers Starter ESS Somme", 2),
        ("05/03/2026 11:00:00", "Starter ESS Somme a accepté", 2),
        ("06/03/2026 11:00:00", "Starter ESS Somme a démarré l'accompagnement", 2),
        ("01/06/2026 17:00:00", "Starter ESS Somme a clôturé : Activité lancée", 2),  # CEST
        ("02/06/2026 11:00:00", "Starter ESS Somme a orienté vers Incubateur Amiens", 3),
        # the redirect is one step: its decline "réorienté ailleurs" is folded into it
        ("10/06/2026 11:00:00", "Incubateur Amiens a réorienté vers Fonds solidaire Picardie", 4),
        ("12/06/2026 11:00:00", "Fonds solidaire Picardie a accepté", 4),
        ("12/06/2026 11:10:00", "Fonds solidaire Picardie a démarré l'accompagnement", 4),
        (
            "30/09/2026 18:45:00",
            "Fonds solidaire Picardie a clôturé : "
            "Financement obtenu, 15\u202f000\u00a0€, 2 emplois",
            4,
        ),
    ]
    assert str(steps[0].at.tzinfo) == "Europe/Paris"


def test_the_chain_is_a_tree_of_which_referral_led_to_which() -> None:
    text = _plain(journey_tree(TIMELINE, title="Qui a orienté vers qui"))
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines == [
        "Qui a orienté vers qui",
        "├── #1 Point PIVA+ Santerre → DLA Somme — déclinée (Hors stade)",
        "└── #2 Point PIVA+ Santerre → Starter ESS Somme — clôturée : Activité lancée",
        "    └── #3 Starter ESS Somme → Incubateur Amiens — déclinée (Réorienté ailleurs)",
        "        └── #4 réorientée : Incubateur Amiens → Fonds solidaire Picardie — clôturée : "
        "Financement obtenu, 15\u202f000\u00a0€, 2 emplois",
    ]


def test_the_whole_rendering_has_the_steps_then_the_tree() -> None:
    text = _plain(render_journey(TIMELINE, title="Parcours de démonstration"))
    assert text.index("Parcours de démonstration") < text.index("a orienté vers DLA Somme")
    assert text.index("a clôturé : Financement obtenu") < text.index("Qui a orienté vers qui")
    assert "30/09/2026 18:45:00  Fonds solidaire Picardie a clôturé" in text
    assert "Réorienté ailleurs" not in text.split("Qui a orienté vers qui")[0]


def test_names_missing_from_the_timeline_come_from_the_labels_and_system_steps_read_well() -> None:
    timeline = {
        "project_id": "prj_x",
        "referrals": [
            {"id": "ref_a", "from": "porteur", "to": "mbr_z", "status": "expired"},
            {"id": "ref_b", "from": "mbr_y", "to": "mbr_z", "status": "cancelled"},
            {"id": "ref_c", "from": "mbr_y", "to": "mbr_w", "status": "failed"},
        ],
        "edges": [{"from": "ref_c", "to": "ref_c"}],  # a malformed edge is ignored
        "events": [
            _event("2026-01-10T10:00:00Z", "ref_a", "send", "porteur"),
            _event("2026-02-09T10:00:00Z", "ref_a", "expire", None),
            _event("2026-02-10T10:00:00Z", "ref_b", "send", "mbr_y"),
            _event("2026-02-11T10:00:00Z", "ref_b", "cancel", None, cause="consentement_retire"),
            _event("2026-02-12T10:00:00Z", "ref_c", "fail", "mbr_w", reason="porteur_injoignable"),
            _event("2026-02-13T10:00:00Z", "ref_c", "inventer", "mbr_w"),
        ],
    }
    labels = Labels(members={"mbr_y": "Maison de l'ESS", "mbr_z": "CAE Somme"})
    assert [s.sentence for s in journey_steps(timeline, labels)] == [
        "la personne porteuse du projet a orienté vers CAE Somme",
        "L'orientation de la personne porteuse du projet a expiré sans réponse",
        "Maison de l'ESS a orienté vers CAE Somme",
        "Relais a annulé l'orientation (consentement retiré)",
        "mbr_w a arrêté l'accompagnement (Porteur injoignable)",
        "mbr_w inventer",  # an action this view does not know yet: its code, not a crash
    ]
    tree = _plain(journey_tree(timeline, labels))
    assert "#3 Maison de l'ESS → mbr_w — arrêtée (Porteur injoignable)" in tree
    assert "#1 la personne porteuse du projet → CAE Somme — expirée" in tree


def test_amounts_and_jobs_in_french() -> None:
    assert euros(15000) == "15\u202f000\u00a0€"
    assert euros(1_250_000) == "1\u202f250\u202f000\u00a0€"
    assert euros(800) == "800\u00a0€"
    assert [jobs(0), jobs(1), jobs(2)] == ["0 emploi", "1 emploi", "2 emplois"]
