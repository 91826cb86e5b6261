from __future__ import annotations

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

DEV_WEBHOOK_SECRET = "whsec_ZGV2ZWxvcG1lbnQtb25seS1zZWNyZXQtY2hhbmdlLW1l"


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    service_name: str = "notify"
    port: int = 8004
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"
    webhook_url: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout_seconds: float = 15.0
    webhook_max_attempts: int = 8

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> NotifySettings:
        if self.environment == "production" and self.webhook_secret == DEV_WEBHOOK_SECRET:
            raise ValueError("NOTIFY_WEBHOOK_SECRET must be set outside development")
        if not self.webhook_secret.startswith("whsec_"):
            raise ValueError("NOTIFY_WEBHOOK_SECRET must be in whsec_<base64> form")
        return self
