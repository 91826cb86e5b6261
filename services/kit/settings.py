"""Typed settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class ServiceSettings(BaseSettings):
    """Common settings. Env prefix per service (DIRECTORY_, REFERRAL_, ...).

    `KAFKA_BOOTSTRAP_SERVERS` and `RELAIS_ENVIRONMENT` are shared by all services: they are
    read without the service prefix, so one variable sets every service (the prefixed name is
    only a fallback when the shared one is unset).
    """

    # hide_input_in_errors: a refused start-up must not print (part of) a secret it was given.
    model_config = SettingsConfigDict(
        env_prefix="RELAIS_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    service_name: str = "relais"
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("RELAIS_ENVIRONMENT")
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    database_url: str | None = None
    var_dir: Path = VAR_DIR
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_session_timeout_ms: int = 6_000
    kafka_heartbeat_interval_ms: int = 1_000
    kafka_fetch_max_wait_ms: int = 10
    consumer_group_prefix: str = "relais"
    consumer_max_attempts: int = 3
    consumer_retry_backoff_ms: int = 200
    consumer_batch_max_records: int = 100
    # A batch commits after this much handling and lets the event loop run other tasks: on
    # SQLite the transaction holds the write lock and runs inline (see kit/consumer.py).
    consumer_batch_slice_ms: float = Field(default=20.0, gt=0)
    # FastStream waits this long for records, and as long again when none came: it bounds
    # the latency a quiet topic adds, against idle wake-ups (10 ms: 100 cheap polls/s).
    consumer_batch_timeout_ms: int = 10
    outbox_retention_hours: float = 24 * 7
    outbox_batch_size: int = 500
    jwks_url: str | None = None
    jwt_issuer: str = "relais-directory"
    jwt_audience: str = "relais"
    log_level: str = "INFO"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"

    @property
    def event_source(self) -> str:
        """The CloudEvents `source` of everything this service publishes."""
        return f"/relais/{self.service_name}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def consumer_group(self, purpose: str) -> str:
        return f"{self.consumer_group_prefix}.{self.service_name}.{purpose}"

    @model_validator(mode="after")
    def _production_needs_explicit_infrastructure(self) -> ServiceSettings:
        if self.environment == "production":
            if not self.database_url or self.database_url.startswith("sqlite"):
                raise ValueError(
                    "production needs a PostgreSQL database URL (<SERVICE>_DATABASE_URL)"
                )
        return self
