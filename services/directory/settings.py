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

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> DirectorySettings:
        if self.environment == "production" and (
            self.admin_key == DEV_ADMIN_KEY or len(self.admin_key) < 32
        ):
            raise ValueError("DIRECTORY_ADMIN_KEY must be set to a random value of 32+ characters")
        return self
