"""The services the CLI knows about, as data: adding one (the console) is one line here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from services.kit.settings import ServiceSettings

IDENTITY_PROVIDER = "directory"
JWKS_PATH = "/.well-known/jwks.json"
RECEIVER_NAME = "demo-receiver"
RECEIVER_PORT = 8010
KAFKA_PORT = 9092


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int  # default port; `relais dev --<name>-port` overrides it

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    @property
    def app_factory(self) -> str:
        return f"services.{self.name}.main:create_app"

    @property
    def port_option(self) -> str:
        return f"--{self.name}-port"

    def settings_class(self) -> type[ServiceSettings]:
        """`services.<name>.settings.<Name>Settings`, imported only when needed."""
        module = importlib.import_module(f"services.{self.name}.settings")
        cls: type[ServiceSettings] = getattr(module, f"{self.name.capitalize()}Settings")
        return cls

    def settings(self) -> ServiceSettings:
        return self.settings_class()()


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("directory", 8001),
    ServiceSpec("referral", 8002),
    ServiceSpec("evaluation", 8003),
    ServiceSpec("notify", 8004),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)


def service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise ValueError(f"service inconnu {name!r} (connus : {', '.join(SERVICE_NAMES)})")
