"""Notify's people channels: routing rules, preferences, email, digests, in-app and member feeds."""

from __future__ import annotations

from services.kit.clock import Clock
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart
from services.notify.settings import NotifySettings


def build_people_part(settings: NotifySettings, clock: Clock, emit: Emitter) -> ServicePart:
    """Everything notify tells people (not partner systems); see docs/services/notify.md."""
    return ServicePart()
