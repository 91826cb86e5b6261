"""The JSON Schemas and the AsyncAPI document in contracts/schemas/ are what the code generates.

Rule 2 of DESIGN.md: the wire format lives only in contracts/, and its schemas are generated
and checked in. A model change without `relais contracts export` fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.export import ASYNCAPI_FILE, SCHEMA_DIR, render_all
from contracts.registry import REGISTRY
from contracts.topics import TOPICS, dlq_topic

FIX = "run `relais contracts export` and commit contracts/schemas/"


def _checked_in() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(SCHEMA_DIR.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMA_DIR / ASYNCAPI_FILE).read_text("utf-8"))
    return document


def test_checked_in_files_equal_generated() -> None:
    expected, present = render_all(), _checked_in()
    missing = sorted(expected.keys() - present.keys())
    extra = sorted(present.keys() - expected.keys())
    differ = sorted(n for n in expected.keys() & present.keys() if present[n] != expected[n])
    lines = [f"  missing:   {n}" for n in missing]
    lines += [f"  different: {n}" for n in differ]
    lines += [f"  extra:     {n}" for n in extra]
    assert not lines, (
        f"contracts/schemas/ is not what contracts.export.render_all() generates "
        f"({len(lines)} file(s)):\n" + "\n".join(lines) + f"\n-> {FIX}"
    )


def test_every_registry_type_has_a_schema_file() -> None:
    missing = [t for t in REGISTRY if not (SCHEMA_DIR / f"{t}.json").is_file()]
    assert not missing, f"no schema file for {missing}: {FIX}"


def test_schema_files_describe_their_type() -> None:
    wrong = []
    for type_name, spec in REGISTRY.items():
        schema = json.loads((SCHEMA_DIR / f"{type_name}.json").read_text("utf-8"))
        attrs = (
            schema.get("x-cloudevents-type"),
            schema.get("x-topic"),
            schema.get("x-key"),
            schema.get("x-stability"),
            schema.get("$schema"),
        )
        want = (
            type_name,
            spec.topic,
            spec.model.key_field,
            spec.stability,
            "https://json-schema.org/draft/2020-12/schema",
        )
        if attrs != want or schema.get("type") != "object":
            wrong.append(f"{type_name}: {attrs} != {want}")
    assert not wrong, "\n".join(wrong) + f"\n-> {FIX}"


def test_asyncapi_version(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"] and asyncapi["info"]["version"]


def test_asyncapi_has_a_channel_per_topic_and_its_dlq(asyncapi: dict[str, Any]) -> None:
    channels = asyncapi["channels"]
    wanted = [name for t in TOPICS for name in (t.name, dlq_topic(t.name))]
    missing = [name for name in wanted if name not in channels]
    assert not missing, f"AsyncAPI channels missing: {missing}"
    for name in wanted:
        assert channels[name]["address"] == name


def test_asyncapi_channels_carry_every_registry_type(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    by_type = {m["name"]: key for key, m in messages.items()}
    assert set(by_type) == set(REGISTRY)
    for type_name, spec in REGISTRY.items():
        channel = asyncapi["channels"][spec.topic]
        ref = f"#/components/messages/{by_type[type_name]}"
        assert {"$ref": ref} in channel["messages"].values(), f"{type_name} not on {spec.topic}"


def test_asyncapi_refs_resolve(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    broken = []
    for key, message in messages.items():
        target = message["payload"]["$ref"]
        if not (SCHEMA_DIR / target).is_file():
            broken.append(f"message {key}: payload {target} is not a file in {SCHEMA_DIR}")
    for name, channel in asyncapi["channels"].items():
        for ref in channel.get("messages", {}).values():
            if ref["$ref"].removeprefix("#/components/messages/") not in messages:
                broken.append(f"channel {name}: {ref['$ref']}")
    for name, operation in asyncapi["operations"].items():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        if channel not in asyncapi["channels"]:
            broken.append(f"operation {name}: channel {channel}")
    assert not broken, "\n".join(broken)
