"""CloudEvents 1.0 Kafka binding, binary mode (DESIGN.md rule 3): to_kafka / from_kafka."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from contracts.base import Event, Territory, TerritoryLevel
from contracts.envelope import CloudEvent, EnvelopeError, from_kafka, to_kafka
from contracts.events.directory import MemberRegistered, SearchStatistics
from contracts.events.evaluation import FollowUpDue
from contracts.events.notify import WebhookDelivered
from contracts.events.referral import ReferralDeclined, ReferralSent
from contracts.registry import spec_for_type

SOURCE = "/relais/test"
WHEN = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
BASE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"}

SENT = ReferralSent(
    project_id="prj_1",
    referral_id="ref_1",
    sender_member_id="mbr_a",
    receiver_member_id="mbr_b",
    stage="creation",
    commune="80021",
    themes=["alimentation"],
)
REGISTERED = MemberRegistered(
    member_id="mbr_a", name="Coopérative d'Amiens", network_ids=["tremplin"], commune="80021"
)
STATS = SearchStatistics(
    period_start="2025-03-01",
    period_end="2025-03-31",
    territory=Territory(level=TerritoryLevel.departement, code="80"),
    searches=42,
    searches_without_result=3,
)
FOLLOW_UP = FollowUpDue(
    project_id="prj_1", follow_up_id="fu_1", member_id="mbr_a", years_after=1, referral_id="ref_1"
)
DELIVERED = WebhookDelivered(delivery_id="dlv_1", event_id="evt_1", attempts=1, status_code=204)

EXAMPLES = [SENT, REGISTERED, STATS, FOLLOW_UP, DELIVERED]


def record(event: Event, **kw: object) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    return to_kafka(CloudEvent.wrap(event, source=SOURCE, time=WHEN, **kw))  # type: ignore[arg-type]


def good_headers(type_name: str = SENT.type_name) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_source", SOURCE.encode()),
        ("ce_type", type_name.encode()),
        ("ce_time", b"2025-03-14T09:26:53Z"),
        ("content-type", b"application/json"),
    ]


def replace(headers: list[tuple[str, bytes]], name: str, value: bytes | None):
    kept = [(n, v) for n, v in headers if n != name]
    return kept if value is None else [*kept, (name, value)]


# --- to_kafka / from_kafka round trip ---------------------------------------------------


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type_name)
def test_round_trip(event: Event) -> None:
    envelope = CloudEvent.wrap(event, source=SOURCE, time=WHEN)
    key, value, headers = to_kafka(envelope)
    parsed = from_kafka(headers, key, value)
    assert parsed == envelope
    spec = spec_for_type(parsed.type)
    assert spec is not None
    assert spec.model.model_validate(parsed.data) == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type_name)
def test_key_is_the_aggregate_id(event: Event) -> None:
    key, _, _ = record(event)
    if event.key_field is None:
        assert key is None
    else:
        assert key == str(getattr(event, event.key_field)).encode()


def test_keys_per_topic_rule() -> None:
    assert record(SENT)[0] == b"prj_1"  # referral.events: project id
    assert record(REGISTERED)[0] == b"mbr_a"  # directory.events: member id
    assert record(FOLLOW_UP)[0] == b"prj_1"  # evaluation.events: project id
    assert record(DELIVERED)[0] == b"dlv_1"  # notify.events: delivery id
    assert record(STATS)[0] is None  # aggregate statistics: no key


def test_headers_are_exactly_the_binary_mode_ones() -> None:
    _, value, headers = record(SENT, event_id="evt-42")
    names = [n for n, _ in headers]
    assert len(names) == len(set(names)), f"duplicate headers: {names}"
    assert set(names) == BASE_HEADERS | {"ce_subject"}
    values = dict(headers)
    assert values["ce_specversion"] == b"1.0"
    assert values["ce_id"] == b"evt-42"
    assert values["ce_source"] == SOURCE.encode()
    assert values["ce_type"] == b"fr.relais.referral.sent.v1"
    assert values["content-type"] == b"application/json"
    assert values["ce_subject"] == b"prj_1"
    assert values["ce_time"] == b"2025-03-14T09:26:53.589793Z"
    assert all(isinstance(v, bytes) for v in values.values())
    assert json.loads(value) == SENT.model_dump(mode="json")


def test_unkeyed_event_has_no_subject_header() -> None:
    key, _, headers = record(STATS)
    assert key is None
    assert {n for n, _ in headers} == BASE_HEADERS


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 14, 10, 26, 53, tzinfo=timezone(timedelta(hours=1))),
        datetime(2025, 3, 14, 9, 26, 53),  # naive: taken as UTC
    ],
    ids=["paris-offset", "naive"],
)
def test_time_is_rfc3339_in_utc_with_z(moment: datetime) -> None:
    _, _, headers = to_kafka(CloudEvent.wrap(SENT, source=SOURCE, time=moment))
    text = dict(headers)["ce_time"].decode()
    assert RFC3339_UTC.match(text), text
    assert text == "2025-03-14T09:26:53Z"


def test_event_ids_are_unique_by_default() -> None:
    ids = {dict(record(SENT)[2])["ce_id"] for _ in range(50)}
    assert len(ids) == 50


def test_value_is_compact_utf8_json() -> None:
    _, value, _ = record(REGISTERED)
    assert "Coopérative".encode() in value
    assert b": " not in value and b", " not in value


def test_header_mapping_and_content_type_parameters_are_accepted() -> None:
    key, value, headers = record(SENT)
    as_mapping = dict(replace(headers, "content-type", b"application/json; charset=utf-8"))
    parsed = from_kafka(as_mapping, key, value)
    assert parsed.type == SENT.type_name
    assert parsed.subject == "prj_1"


# --- from_kafka refuses what is not a binary-mode CloudEvent -----------------------------


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        (replace(good_headers(), "ce_type", None), b"{}", "missing CloudEvents header(s): ce_type"),
        (
            [("content-type", b"application/json")],
            b"{}",
            "missing CloudEvents header(s): ce_id, ce_source, ce_type, ce_specversion",
        ),
        (good_headers(), b"not json", "value is not valid JSON"),
        (good_headers(), None, "value is not valid JSON"),
        (good_headers(), b'[{"project_id": "prj_1"}]', "value must be a JSON object"),
        (replace(good_headers(), "ce_specversion", b"0.3"), b"{}", "unsupported ce_specversion"),
        (replace(good_headers(), "content-type", b"text/plain"), b"{}", "unsupported content-type"),
        (
            replace(good_headers(), "content-type", b"application/cloudevents+json"),
            b"{}",
            "unsupported content-type 'application/cloudevents+json'",
        ),
        (replace(good_headers(), "ce_time", b"yesterday"), b"{}", "ce_time is not RFC 3339"),
    ],
    ids=[
        "missing-type",
        "no-ce-headers",
        "not-json",
        "null-value",
        "json-array",
        "wrong-specversion",
        "text-content-type",
        "structured-mode",
        "bad-time",
    ],
)
def test_from_kafka_refuses_with_a_helpful_message(
    headers: list[tuple[str, bytes]], value: bytes | None, message: str
) -> None:
    with pytest.raises(EnvelopeError) as caught:
        from_kafka(headers, b"prj_1", value)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_wrong_specversion_message_names_the_version() -> None:
    with pytest.raises(EnvelopeError, match=r"unsupported ce_specversion '0\.3'"):
        from_kafka(replace(good_headers(), "ce_specversion", b"0.3"), None, b"{}")


# --- the models --------------------------------------------------------------------------


def test_event_models_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        SENT.referral_id = "ref_2"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        STATS.territory.code = "59"  # type: ignore[misc]


def test_envelope_is_frozen() -> None:
    envelope = CloudEvent.wrap(SENT, source=SOURCE, time=WHEN)
    with pytest.raises(ValidationError, match="frozen"):
        envelope.type = "fr.relais.referral.accepted.v1"  # type: ignore[misc]


def test_unknown_fields_in_data_are_ignored() -> None:
    """An additive change by a newer producer does not break an older consumer."""
    data = {**SENT.model_dump(mode="json"), "priority": "high", "future": {"nested": [1, 2]}}
    headers = good_headers()
    parsed = from_kafka(headers, b"prj_1", json.dumps(data).encode())
    assert parsed.data["priority"] == "high"  # the envelope keeps the data as sent
    model = ReferralSent.model_validate(parsed.data)
    assert model == SENT
    assert "priority" not in model.model_dump()


def test_missing_required_field_is_a_validation_error() -> None:
    data = SENT.model_dump(mode="json")
    del data["receiver_member_id"]
    with pytest.raises(ValidationError, match="receiver_member_id"):
        ReferralSent.model_validate(data)


def test_declined_reason_is_an_ascii_code() -> None:
    declined = ReferralDeclined(
        project_id="prj_1",
        referral_id="ref_1",
        sender_member_id="mbr_a",
        receiver_member_id="mbr_b",
        reason="reoriente_ailleurs",
    )
    _, value, _ = record(declined)
    assert value.isascii()
