"""A stable event type's schema may only change compatibly (DESIGN.md rule 2).

The last released contract is the checked-in schema at git HEAD (or the file on disk when git
or the file's history is not there); the code's schema is what contracts.export generates now.
Today every type is still `draft`, so the checker itself is tested here on synthetic schemas,
and the draft/stable switch on a patched registry entry.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from enum import StrEnum
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, Field

from contracts.base import Event, Id, Payload
from contracts.compat import incompatibilities
from contracts.events import directory, referral
from contracts.export import SCHEMA_DIR, event_schema
from contracts.registry import REGISTRY, EventSpec

REPO_ROOT = SCHEMA_DIR.parent.parent


def released_schema(type_name: str) -> tuple[dict[str, Any] | None, str]:
    """(schema, where it came from) of the last released contract of `type_name`."""
    path = SCHEMA_DIR / f"{type_name}.json"
    relative = path.relative_to(REPO_ROOT).as_posix()
    if shutil.which("git"):
        shown = subprocess.run(
            ["git", "show", f"HEAD:./{relative}"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=False,
        )
        if shown.returncode == 0:
            return json.loads(shown.stdout), f"git HEAD:{relative}"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    return None, str(path)


def stable_problems() -> dict[str, list[str]]:
    """Type name -> why the code's schema breaks the released one, for stable types only."""
    problems: dict[str, list[str]] = {}
    for type_name, spec in REGISTRY.items():
        if spec.stability != "stable":
            continue
        released, origin = released_schema(type_name)
        if released is None:
            problems[type_name] = [f"no released schema at {origin}"]
            continue
        found = incompatibilities(released, event_schema(spec))
        if found:
            problems[type_name] = [f"(against {origin}) {p}" for p in found]
    return problems


def _report(problems: dict[str, list[str]]) -> str:
    lines = [f"{t}:\n" + "\n".join(f"    {p}" for p in ps) for t, ps in problems.items()]
    return (
        "stable event types changed incompatibly; keep the change additive (optional fields, "
        "new enum values) or publish a new type version (.v2):\n" + "\n".join(lines)
    )


# --- (a) the real registry ---------------------------------------------------------------


def test_stable_types_stay_compatible_with_released_schemas() -> None:
    problems = stable_problems()
    assert not problems, _report(problems)


def test_every_type_declares_a_known_stability_and_owner() -> None:
    for type_name, spec in REGISTRY.items():
        assert spec.stability in ("draft", "stable"), type_name
        assert spec.owner, type_name


def test_released_schemas_are_found_for_every_type() -> None:
    """The baseline lookup works for every type today (from git HEAD or from disk)."""
    for type_name in REGISTRY:
        schema, origin = released_schema(type_name)
        assert schema is not None, origin
        assert schema["x-cloudevents-type"] == type_name


def test_current_schemas_are_compatible_with_themselves() -> None:
    for spec in REGISTRY.values():
        schema = event_schema(spec)
        assert incompatibilities(schema, copy.deepcopy(schema)) == [], spec.type_name


# --- (b) the checker on synthetic schemas --------------------------------------------------


def schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def check(before: type[BaseModel], after: type[BaseModel]) -> list[str]:
    return incompatibilities(schema(before), schema(after))


class Before(Payload):
    member_id: str
    name: str
    count: int
    note: str | None = None
    status: Literal["open", "full"] = "open"


def test_identical_schemas_are_compatible() -> None:
    assert check(Before, Before) == []


def test_removing_a_field_is_reported() -> None:
    class After(Payload):
        member_id: str
        count: int
        note: str | None = None
        status: Literal["open", "full"] = "open"

    assert check(Before, After) == ["name: field removed"]


def test_removing_an_optional_field_is_reported() -> None:
    class After(Payload):
        member_id: str
        name: str
        count: int
        status: Literal["open", "full"] = "open"

    assert check(Before, After) == ["note: field removed"]


def test_retyping_a_field_is_reported() -> None:
    class After(Payload):
        member_id: int  # was str
        name: str
        count: int
        note: str | None = None
        status: Literal["open", "full"] = "open"

    assert check(Before, After) == ["member_id: no longer accepts string"]


def test_making_an_optional_field_required_is_reported() -> None:
    class After(Payload):
        member_id: str
        name: str
        count: int
        note: str  # was str | None = None
        status: Literal["open", "full"] = "open"

    problems = check(Before, After)
    assert "note: was optional, now required" in problems
    assert "note: no longer accepts null" in problems


def test_dropping_a_default_is_reported() -> None:
    class After(Payload):
        member_id: str
        name: str
        count: int
        note: str | None = None
        status: Literal["open", "full"]  # no default any more

    assert check(Before, After) == ["status: was optional, now required"]


def test_adding_a_required_field_is_reported() -> None:
    class After(Before):
        territory_code: str

    assert check(Before, After) == ["territory_code: was absent, now required"]


def test_removing_an_enum_value_is_reported() -> None:
    class After(Payload):
        member_id: str
        name: str
        count: int
        note: str | None = None
        status: Literal["open"] = "open"

    assert check(Before, After) == ["status: no longer accepts enum:full"]


def test_adding_an_optional_field_is_compatible() -> None:
    class After(Before):
        themes: list[str] = Field(default_factory=list)
        stage: str | None = None

    assert check(Before, After) == []


def test_adding_an_enum_value_is_compatible() -> None:
    class After(Payload):
        member_id: str
        name: str
        count: int
        note: str | None = None
        status: Literal["open", "waitlist", "full"] = "open"

    assert check(Before, After) == []


def test_adding_a_value_to_a_string_enum_class_is_compatible() -> None:
    class LevelV1(StrEnum):
        commune = "commune"
        region = "region"

    class LevelV2(StrEnum):
        commune = "commune"
        region = "region"
        national = "national"

    class Old(Payload):
        level: LevelV1

    class New(Payload):
        level: LevelV2

    assert check(Old, New) == []
    assert check(New, Old) == ["level: no longer accepts enum:national"]


def test_widening_str_to_optional_is_compatible() -> None:
    class After(Payload):
        member_id: str
        name: str | None  # was str
        count: int
        note: str | None = None
        status: Literal["open", "full"] = "open"

    assert check(Before, After) == []


class Place(Payload):
    level: str
    code: str


class PlaceWithoutCode(Payload):
    level: str


def test_removing_a_field_of_a_nested_model_is_reported() -> None:
    class Old(Payload):
        territory: Place

    class New(Payload):
        territory: PlaceWithoutCode

    old, new = schema(Old), schema(New)
    assert "$ref" in old["properties"]["territory"]  # the nested model really is a $def
    assert incompatibilities(old, new) == ["territory.code: field removed"]


def test_nested_models_in_lists_optionals_and_dicts_are_checked() -> None:
    class Old(Payload):
        places: list[Place]
        home: Place | None = None
        by_code: dict[str, Place] = Field(default_factory=dict)

    class New(Payload):
        places: list[PlaceWithoutCode]
        home: PlaceWithoutCode | None = None
        by_code: dict[str, PlaceWithoutCode] = Field(default_factory=dict)

    assert check(Old, New) == [
        "places[].code: field removed",
        "home.code: field removed",
        "by_code{}.code: field removed",
    ]


def test_a_real_contract_nested_removal_is_reported() -> None:
    old = event_schema(REGISTRY[directory.SearchStatistics.type_name])
    new = copy.deepcopy(old)
    del new["$defs"]["Territory"]["properties"]["code"]
    new["$defs"]["Territory"]["required"].remove("code")
    assert incompatibilities(old, new) == ["territory.code: field removed"]


# --- (c) the draft/stable switch ---------------------------------------------------------

ACCEPTED = referral.ReferralAccepted.type_name


class BrokenAccepted(Event):
    """fr.relais.referral.accepted.v1 with receiver_member_id dropped and referral_id retyped."""

    type_name: ClassVar[str] = ACCEPTED
    topic: ClassVar[str] = referral.TOPIC
    key_field: ClassVar[str | None] = "project_id"
    project_id: Id
    referral_id: int
    sender_member_id: Id


class ExtendedAccepted(referral.ReferralAccepted):
    """An additive change: one new optional field."""

    adviser_user_id: Id | None = None


def _patch(monkeypatch: pytest.MonkeyPatch, model: type[Event], stability: str) -> None:
    spec = REGISTRY[ACCEPTED]
    monkeypatch.setitem(REGISTRY, ACCEPTED, EventSpec(model, stability, spec.owner))  # type: ignore[arg-type]


def test_breaking_a_stable_type_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, BrokenAccepted, "stable")
    problems = stable_problems()
    assert list(problems) == [ACCEPTED]
    found = "\n".join(problems[ACCEPTED])
    assert "receiver_member_id: field removed" in found
    assert "referral_id: no longer accepts string" in found
    assert ".v2" in _report(problems)  # the failure says what to do instead


def test_breaking_a_draft_type_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, BrokenAccepted, "draft")
    assert stable_problems() == {}


def test_an_unchanged_stable_type_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, referral.ReferralAccepted, "stable")
    assert stable_problems() == {}


def test_an_additive_change_to_a_stable_type_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, ExtendedAccepted, "stable")
    assert stable_problems() == {}


def test_a_stable_type_without_released_schema_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Brand(Event):
        type_name: ClassVar[str] = "fr.relais.referral.brand_new.v1"
        topic: ClassVar[str] = referral.TOPIC
        key_field: ClassVar[str | None] = "project_id"
        project_id: Id

    monkeypatch.setitem(REGISTRY, Brand.type_name, EventSpec(Brand, "stable", "test"))
    assert "no released schema" in stable_problems()[Brand.type_name][0]
