from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

DEV_PUBLIC_RATE_KEY = "dev-evaluation-public-rate-key"


class EvaluationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVALUATION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "evaluation"
    port: int = 8003
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"

    # --- indicators slice (projections, rebuild, reports; docs/services/evaluation.md) ------
    stuck_after_days: int = 21  # accepted and not started for longer: counted as stuck
    rebuild_batch_size: int = 20_000  # archive rows read per batch by `relais evaluation rebuild`

    # --- grid slice (services/evaluation/grid; docs/services/evaluation-grid.md) ---------
    grid_version: str | None = None  # None: the latest published grid
    directory_url: str | None = None  # None: the origin of jwks_url (the directory serves it)
    referral_url: str = "http://127.0.0.1:8002"
    outbound_timeout_seconds: float = 5.0
    public_rate_key: str = DEV_PUBLIC_RATE_KEY
    public_per_hour: int = 30
    public_per_day: int = 200
    public_max_body_bytes: int = 16_384

    @property
    def effective_directory_url(self) -> str:
        if self.directory_url:
            return self.directory_url.rstrip("/")
        parts = urlsplit(self.jwks_url or "http://127.0.0.1:8001")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _rate_key_outside_development(self) -> EvaluationSettings:
        if self.environment == "production" and (
            self.public_rate_key == DEV_PUBLIC_RATE_KEY or len(self.public_rate_key) < 32
        ):
            raise ValueError(
                "EVALUATION_PUBLIC_RATE_KEY must be set in production (32+ random characters)"
            )
        return self
