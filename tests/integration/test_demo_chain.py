"""`relais demo`'s chain against the four services in this process, with the demo's own
structures loaded through the directory's API (the five the story needs, their offers).

idée → (DLA declines: hors stade) → Starter ESS → incubator → (redirect) → France Active fund:
the timeline reads back in order, the chain is a tree, and the rendering says it in French.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
from rich.console import Console

from services.cli import demo
from services.cli.demo_chain import ROLES, play_chain
from services.cli.journey import Labels, journey_steps, render_journey
from services.directory.demo_data import generate
from tests.harness.stack import ADMIN_KEY, running_stack

SLUGS = {slugs[0] for slugs, _schemes in ROLES.values()}


async def test_the_demo_chain_reads_back_in_order(
    kafka_bootstrap: str,
    unique_name,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    full = generate()
    data = dataclasses.replace(
        full,
        members=tuple(m for m in full.members if m.slug in SLUGS),
        offers=tuple(o for o in full.offers if o.member in SLUGS),
        accounts=(),
    )
    async with running_stack(
        bootstrap=kafka_bootstrap,
        var_dir=tmp_path,
        group_prefix=unique_name("demo"),
        webhook_url=None,
    ) as stack:
        directory, referral = stack.url("directory"), stack.url("referral")
        loaded = await demo.load_demo(directory, ADMIN_KEY, data)
        members = demo.members_document(loaded)
        # No waiting here: the chain itself waits for the referral service's copy.
        result = await play_chain(directory, referral, members, wait_seconds=60)

        ids = loaded.member_ids
        cast = result.cast
        assert [s.slug for s in cast.all()] == [
            "piva-montdidier",
            "dla-somme",
            "starter-somme",
            "incubateur-amiens",
            "fonds-picardie",
        ]
        # The Starter ESS operator was found through /v1/match: its offer covers Montdidier.
        assert result.starter_offer is not None
        assert {"level": "departement", "code": "80"}.items() <= (
            result.starter_offer["territories"][0].items()
        )

        line = result.timeline
        r = result.referrals
        name = {v: k for k, v in ids.items()}
        assert [(name[x["from"]], name[x["to"]], x["status"]) for x in line["referrals"]] == [
            ("piva-montdidier", "dla-somme", "declined"),
            ("piva-montdidier", "starter-somme", "completed"),
            ("starter-somme", "incubateur-amiens", "declined"),
            ("incubateur-amiens", "fonds-picardie", "completed"),
        ]
        number = {r["declined"]: 1, r["starter"]: 2, r["incubator"]: 3, r["fund"]: 4}
        assert [(number[e["referral_id"]], e["action"]) for e in line["events"]] == [
            (1, "send"),
            (1, "decline"),
            (2, "send"),
            (2, "accept"),
            (2, "start"),
            (2, "complete"),
            (3, "send"),
            (4, "send"),
            (3, "decline"),
            (4, "accept"),
            (4, "start"),
            (4, "complete"),
        ]
        times = [e["at"] for e in line["events"]]
        assert times == sorted(times)
        assert {(number[e["from"]], number[e["to"]]) for e in line["edges"]} == {(2, 3), (3, 4)}

        # Every member of the journey reads it, as a person would want to.
        labels = Labels(members=result.member_names)
        steps = [s.sentence for s in journey_steps(line, labels)]
        piva, dla, starter, incubator, fund = (s.name for s in cast.all())
        assert steps == [
            f"{piva} a orienté vers {dla}",
            f"{dla} a décliné (Hors stade)",
            f"{piva} a orienté vers {starter}",
            f"{starter} a accepté",
            f"{starter} a démarré l'accompagnement",
            f"{starter} a clôturé : Activité lancée",
            f"{starter} a orienté vers {incubator}",
            f"{incubator} a réorienté vers {fund}",
            f"{fund} a accepté",
            f"{fund} a démarré l'accompagnement",
            f"{fund} a clôturé : Financement obtenu, 15\u202f000\u00a0€, 2 emplois",
        ]
        console = Console(record=True, width=200, color_system=None)
        console.print(render_journey(line, labels))
        text = console.export_text()
        assert f"#4 réorientée : {incubator} → {fund} — clôturée : Financement obtenu" in text

        # The fund sees the same timeline; a member off the journey does not.
        async with httpx.AsyncClient(timeout=10) as client:
            token = await client.post(directory + "/v1/token", json={"api_key": cast.fund.api_key})
            seen = await client.get(
                f"{referral}/v1/projects/{result.project_id}/timeline",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert seen.status_code == 200 and seen.json()["events"] == line["events"]
