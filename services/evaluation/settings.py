from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class EvaluationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVALUATION_", extra="ignore", populate_by_name=True
    )

    service_name: str = "evaluation"
    port: int = 8003
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"
