"""`relais demo` without a stack: who plays which part, and a missing credentials file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.demo_chain import Cast, DemoChainError, Structure
from services.cli.main import app


def _member(slug: str, *schemes: str) -> Structure:
    return Structure(id=f"mbr_{slug}", name=slug.title(), slug=slug, api_key="rk", schemes=schemes)


DEMO = [
    _member("starter-nord", "starter_ess"),
    _member("piva-montdidier", "piva_plus"),
    _member("dla-somme", "dla"),
    _member("starter-somme", "starter_ess"),
    _member("incubateur-amiens", "incubateur"),
    _member("fonds-picardie", "france_active"),
]


def test_the_demo_structures_play_their_parts() -> None:
    cast = Cast.choose(DEMO)
    assert [s.slug for s in cast.all()] == [
        "piva-montdidier",
        "dla-somme",
        "starter-somme",
        "incubateur-amiens",
        "fonds-picardie",
    ]


def test_other_structures_of_the_right_scheme_stand_in() -> None:
    others = [
        _member("cress", "cress"),
        _member("dla-x", "dla"),
        _member("starter-x", "starter_ess"),
        _member("incub-x", "incubateur"),
        _member("fonds-x", "france_active"),
    ]
    assert [s.slug for s in Cast.choose(others).all()] == [
        "cress",
        "dla-x",
        "starter-x",
        "incub-x",
        "fonds-x",
    ]
    with pytest.raises(DemoChainError, match="france_active"):
        Cast.choose(others[:-1])


def test_relais_demo_without_credentials_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--url-file", str(tmp_path / "absent.json")])
    assert result.exit_code == 1
    assert "relais dev" in result.output
