from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.kit.internal import DEV_INTERNAL_KEY  # the development default of every key
from services.kit.settings import ServiceSettings

Part = Literal["webhooks", "people"]
PARTS: tuple[Part, ...] = ("webhooks", "people")
DEV_WEBHOOK_SECRET = "whsec_ZGV2ZWxvcG1lbnQtb25seS1zZWNyZXQtY2hhbmdlLW1l"


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", populate_by_name=True)

    service_name: str = "notify"
    port: int = 8004
    # Which parts this process runs (NOTIFY_PARTS=webhooks or =people): a deployment may run
    # them as separate processes, scaled apart, sharing one PostgreSQL database. Default: both.
    parts: Annotated[list[Part], NoDecode] = Field(default_factory=lambda: list(PARTS))
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"
    webhook_url: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout_seconds: float = 15.0
    webhook_max_attempts: int = 8
    # --- webhooks to partner systems (services/notify/webhooks) --------------------------
    webhook_secrets_key: str | None = None  # 32 bytes base64url; seals subscription secrets
    webhook_allow_loopback: bool | None = None  # None: allowed outside production
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    )
    webhook_retry_jitter: float = Field(default=0.1, ge=0, le=1)
    webhook_max_in_flight: int = Field(default=128, ge=1)
    webhook_max_in_flight_per_endpoint: int = Field(default=8, ge=1)
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0)
    webhook_claim_seconds: float = Field(default=60.0, gt=0)
    # --- people channels (services/notify/people): email, digests, feeds ---------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Relais <notifications@relais.localhost>"
    public_base_url: str = "http://127.0.0.1:8000"
    digest_hour: int = Field(default=8, ge=0, le=23)
    email_max_attempts: int = 8
    directory_url: str | None = None
    directory_internal_key: str = DEV_INTERNAL_KEY
    referral_url: str = "http://127.0.0.1:8002"
    referral_internal_key: str = DEV_INTERNAL_KEY
    unsubscribe_secret: str = DEV_INTERNAL_KEY
    create_feed_topics: bool = True
    feed_topic_partitions: int = 1

    @field_validator("parts", mode="before")
    @classmethod
    def _parts_from_a_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = (
                json.loads(text)
                if text.startswith("[")
                else [p.strip() for p in text.split(",") if p.strip()]
            )
        if isinstance(value, list) and not value:
            raise ValueError(f"NOTIFY_PARTS names at least one of {', '.join(PARTS)}")
        return value

    @property
    def effective_database_url(self) -> str:
        """As every service's, except that a process running one part defaults to a SQLite
        file of its own (`notify-people.db`): two processes must not write one SQLite file."""
        if self.database_url or len(self.parts) != 1:
            return super().effective_database_url
        return f"sqlite+aiosqlite:///{self.var_dir / f'notify-{self.parts[0]}.db'}"

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> NotifySettings:
        if "webhooks" not in self.parts:
            return self
        if self.environment == "production" and self.webhook_secret == DEV_WEBHOOK_SECRET:
            raise ValueError("NOTIFY_WEBHOOK_SECRET must be set outside development")
        if not self.webhook_secret.startswith("whsec_"):
            raise ValueError("NOTIFY_WEBHOOK_SECRET must be in whsec_<base64> form")
        return self

    @property
    def webhook_loopback_allowed(self) -> bool:
        """Loopback webhook URLs: NOTIFY_WEBHOOK_ALLOW_LOOPBACK, else only outside production."""
        if self.webhook_allow_loopback is not None:
            return self.webhook_allow_loopback
        return self.environment != "production"

    @model_validator(mode="after")
    def _webhook_secrets_key(self) -> NotifySettings:
        if "webhooks" not in self.parts:
            return self
        if self.webhook_secrets_key is None and self.environment == "production":
            raise ValueError("NOTIFY_WEBHOOK_SECRETS_KEY is required outside development")
        if self.webhook_secrets_key is not None:
            from services.notify.webhooks.secrets import parse_key

            parse_key(self.webhook_secrets_key)
        return self

    @property
    def effective_directory_url(self) -> str:
        """NOTIFY_DIRECTORY_URL, else the directory that serves the JWKS."""
        if self.directory_url:
            return self.directory_url.rstrip("/")
        jwks = self.jwks_url or "http://127.0.0.1:8001/.well-known/jwks.json"
        return jwks.split("/.well-known/", 1)[0]

    @model_validator(mode="after")
    def _people_channels_outside_development(self) -> NotifySettings:
        if self.environment != "production" or "people" not in self.parts:
            return self
        weak_unsubscribe_secret = (
            len(self.unsubscribe_secret) < 32 or self.unsubscribe_secret == DEV_INTERNAL_KEY
        )
        missing = [
            name
            for name, bad in (
                ("NOTIFY_DIRECTORY_INTERNAL_KEY", self.directory_internal_key == DEV_INTERNAL_KEY),
                ("NOTIFY_REFERRAL_INTERNAL_KEY", self.referral_internal_key == DEV_INTERNAL_KEY),
                ("NOTIFY_UNSUBSCRIBE_SECRET (32+ random characters)", weak_unsubscribe_secret),
                ("NOTIFY_SMTP_USER", not self.smtp_user),
                ("NOTIFY_SMTP_PASSWORD", not self.smtp_password),
                ("NOTIFY_PUBLIC_BASE_URL", "127.0.0.1" in self.public_base_url),
            )
            if bad
        ]
        if missing:
            raise ValueError(f"notify needs these settings outside development: {missing}")
        if not self.smtp_starttls:
            raise ValueError("NOTIFY_SMTP_STARTTLS must be true outside development")
        return self
