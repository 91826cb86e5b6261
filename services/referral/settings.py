from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore", populate_by_name=True)

    service_name: str = "referral"
    port: int = 8002
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"
