"""Backward-compatibility check between two JSON Schemas of the same event type.

A change is compatible for existing consumers when every property they may read is still
there with the same type, and nothing they never had to send became required.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Return human-readable reasons why `new` breaks consumers of `old` (empty: compatible)."""
    return _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), path="")


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"), {})
    return schema


def _types(schema: Schema, defs: dict[str, Schema]) -> set[str]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return set().union(*(_types(s, defs) for s in schema["anyOf"]))
    if "enum" in schema:
        return {f"enum:{v}" for v in schema["enum"]}
    if "const" in schema:
        return {f"enum:{schema['const']}"}
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if kind else {"any"}


def _shape(schema: Schema, defs: dict[str, Schema]) -> Schema:
    """The object/array schema to descend into: `X | None` (anyOf with one non-null branch) is X."""
    schema = _resolve(schema, defs)
    branches = [
        _resolve(s, defs)
        for s in schema.get("anyOf", [])
        if _resolve(s, defs).get("type") != "null"
    ]
    return branches[0] if len(branches) == 1 else schema


def _compare(old: Schema, new: Schema, old_defs: dict, new_defs: dict, path: str) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    old_types, new_types = _types(old, old_defs), _types(new, new_defs)
    if "any" not in new_types and not old_types <= new_types:
        lost = ", ".join(sorted(old_types - new_types))
        problems.append(f"{path or '<root>'}: no longer accepts {lost}")
    old, new = _shape(old, old_defs), _shape(new, new_defs)
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{where}: field removed")
            continue
        problems += _compare(old_prop, new_props[name], old_defs, new_defs, where)
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        where = f"{path}.{name}" if path else name
        state = "optional" if name in old_props else "absent"
        problems.append(f"{where}: was {state}, now required")
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_defs, new_defs, f"{path}[]")
    old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_values, dict) and isinstance(new_values, dict):
        problems += _compare(old_values, new_values, old_defs, new_defs, f"{path}{{}}")
    return problems
