"""Generate the checked-in JSON Schemas (one per event type) and the AsyncAPI 3.0 document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.registry import REGISTRY, EventSpec
from contracts.topics import TOPICS, dlq_topic

SCHEMA_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_FILE = "asyncapi.json"


def event_schema(spec: EventSpec) -> dict[str, Any]:
    schema = spec.model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:relais:schema:{spec.type_name}"
    schema["x-cloudevents-type"] = spec.type_name
    schema["x-topic"] = spec.topic
    schema["x-key"] = spec.model.key_field
    schema["x-stability"] = spec.stability
    schema["x-owner"] = spec.owner
    return schema


def _message_name(spec: EventSpec) -> str:
    return spec.type_name.removeprefix("fr.relais.").replace(".", "_")


def asyncapi_document() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    ce_headers = {
        "type": "object",
        "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"],
        "properties": {
            name: {"type": "string"}
            for name in (
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_specversion",
                "ce_time",
                "ce_subject",
                "content-type",
            )
        },
    }
    for spec in REGISTRY.values():
        name = _message_name(spec)
        messages[name] = {
            "name": spec.type_name,
            "title": spec.model.__name__,
            "summary": (spec.model.__doc__ or "").strip().splitlines()[0]
            if spec.model.__doc__
            else "",
            "contentType": "application/json",
            "headers": ce_headers,
            "payload": {"$ref": f"{spec.type_name}.json"},
            "bindings": {
                "kafka": {"key": {"type": "string", "description": spec.model.key_field or "none"}}
            },
            "x-stability": spec.stability,
        }
    for topic in TOPICS:
        channel_messages = {
            _message_name(s): {"$ref": f"#/components/messages/{_message_name(s)}"}
            for s in REGISTRY.values()
            if s.topic == topic.name
        }
        channels[topic.name] = {
            "address": topic.name,
            "description": f"{topic.description}. Key: {topic.key}. Producer: {topic.producer}.",
            "messages": channel_messages,
        }
        channels[dlq_topic(topic.name)] = {
            "address": dlq_topic(topic.name),
            "description": f"Dead letters of {topic.name}: "
            "the original record plus x-dlq-* headers.",
        }
        operations[f"publish_{topic.name.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "messages": list(channel_messages.values()),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Relais",
            "version": "1.0.0",
            "description": "Events and commands exchanged by the Relais services. "
            "Records follow the CloudEvents 1.0 Kafka binding in binary mode.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render_all() -> dict[str, str]:
    """File name -> content, exactly as checked in."""
    files = {f"{spec.type_name}.json": _dump(event_schema(spec)) for spec in REGISTRY.values()}
    files[ASYNCAPI_FILE] = _dump(asyncapi_document())
    return files


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_all().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
