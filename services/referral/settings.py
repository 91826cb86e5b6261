from __future__ import annotations

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings
from services.referral.crypto import DEVELOPMENT_MASTER_KEY, parse_master_key


class NetworkPolicy(BaseModel):
    """Escalation delays of a network (calendar days, Europe/Paris)."""

    reminder_days: int = 10
    expiry_days: int = 30
    stuck_after_days: int = 21


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore", populate_by_name=True)

    service_name: str = "referral"
    port: int = 8002
    jwks_url: str | None = "http://127.0.0.1:8001/.well-known/jwks.json"
    master_key: str | None = None
    default_policy: NetworkPolicy = NetworkPolicy()
    network_policies: dict[str, NetworkPolicy] = Field(default_factory=dict)
    idempotency_hours: int = 24
    anonymise_after_days: int = 730
    command_freshness_minutes: float = 15  # signed Kafka commands: issued_at ± this, at receipt

    def policy_for(self, network_id: str | None) -> NetworkPolicy:
        return self.network_policies.get(network_id or "", self.default_policy)

    @property
    def master_key_bytes(self) -> bytes:
        return parse_master_key(self.master_key or DEVELOPMENT_MASTER_KEY)

    @model_validator(mode="after")
    def _master_key_outside_development(self) -> ReferralSettings:
        if self.master_key is None and self.environment == "production":
            raise ValueError(
                "REFERRAL_MASTER_KEY is required outside development (32 bytes, base64url)"
            )
        if self.master_key is not None:
            parse_master_key(self.master_key)
        return self
