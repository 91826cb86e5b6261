"""NOTIFY_PARTS: a notify process runs both parts, or the one it names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notify.main import create_app
from services.notify.settings import NotifySettings


def test_parts_come_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NotifySettings().parts == ["webhooks", "people"]
    monkeypatch.setenv("NOTIFY_PARTS", "people")
    assert NotifySettings().parts == ["people"]
    monkeypatch.setenv("NOTIFY_PARTS", "webhooks, people")
    assert NotifySettings().parts == ["webhooks", "people"]
    for wrong in ("", "sms"):
        monkeypatch.setenv("NOTIFY_PARTS", wrong)
        with pytest.raises(ValidationError):
            NotifySettings()


@pytest.mark.parametrize(
    ("parts", "served", "absent"),
    [
        (["people"], "/v1/preferences", "/v1/subscriptions"),
        (["webhooks"], "/v1/subscriptions", "/v1/preferences"),
    ],
)
def test_a_process_serves_and_consumes_for_its_parts_only(
    parts: list[str], served: str, absent: str
) -> None:
    settings = NotifySettings(environment="test", jwks_url=None, parts=parts)
    app = create_app(settings)
    paths = app.openapi()["paths"]
    assert served in paths and absent not in paths
    groups = {consumer.group_id for consumer in app.state.runtime.consumers}
    purposes = {group.rsplit(".", 1)[1] for group in groups}
    assert ("people" in purposes) == (parts == ["people"])
    assert len(groups) == 1
