"""The wire format of Relais: the CloudEvents envelope, every event and command, the topics.

Nothing here does I/O. Services import these models to publish and to parse; they never
put their own table models on the wire.
"""

from contracts.base import Command, Event, Territory, TerritoryLevel
from contracts.envelope import CloudEvent, EnvelopeError, from_kafka, to_kafka
from contracts.registry import REGISTRY, EventSpec, spec_for_model, spec_for_type

__all__ = [
    "REGISTRY",
    "CloudEvent",
    "Command",
    "EnvelopeError",
    "Event",
    "EventSpec",
    "Territory",
    "TerritoryLevel",
    "from_kafka",
    "spec_for_model",
    "spec_for_type",
    "to_kafka",
]
