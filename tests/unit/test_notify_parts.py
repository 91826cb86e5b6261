"""NOTIFY_PARTS: a notify process runs both parts, or the one it names."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from services.notify.main import create_app
from services.notify.settings import NotifySettings
from services.notify.webhooks.secrets import generate_secret


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


def test_a_json_list_names_parts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_PARTS", '["webhooks"]')
    assert NotifySettings().parts == ["webhooks"]


def test_production_asks_only_for_the_settings_of_the_parts_it_runs() -> None:
    webhooks_only = NotifySettings(
        environment="production",
        parts=["webhooks"],
        database_url="postgresql://relais:pw@db/notify",
        webhook_secret=generate_secret(),
        webhook_secrets_key=base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
    )
    assert webhooks_only.parts == ["webhooks"]  # no SMTP, unsubscribe or look-up keys asked
    with pytest.raises(ValidationError, match="NOTIFY_SMTP_USER"):
        NotifySettings(
            environment="production",
            parts=["people"],
            database_url="postgresql://relais:pw@db/notify",
        )  # ... but nothing about webhook secrets: the people part's own list


def test_one_part_on_sqlite_defaults_to_a_file_of_its_own() -> None:
    both, people = NotifySettings(), NotifySettings(parts=["people"])
    assert both.effective_database_url.endswith("/notify.db")
    assert people.effective_database_url.endswith("/notify-people.db")
    chosen = NotifySettings(parts=["people"], database_url="postgresql://relais:pw@db/notify")
    assert chosen.effective_database_url.startswith("postgresql")
