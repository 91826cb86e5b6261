from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

DEV_ADMIN_KEY = "dev-admin-key-change-me"


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIRECTORY_", extra="ignore", populate_by_name=True
    )

    service_name: str = "directory"
    port: int = 8001
    admin_key: str = DEV_ADMIN_KEY
    token_ttl_seconds: int = 900
    invitation_ttl_hours: int = 24 * 7
    reset_ttl_hours: int = 2
    password_page_url: str = "http://127.0.0.1:8000/mot-de-passe"
    search_stats_min_count: int = 5

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> DirectorySettings:
        if self.environment == "production" and (
            self.admin_key == DEV_ADMIN_KEY or len(self.admin_key) < 32
        ):
            raise ValueError("DIRECTORY_ADMIN_KEY must be set to a random value of 32+ characters")
        return self
