"""Base classes shared by every event and command payload."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
InseeCode = Annotated[str, Field(min_length=2, max_length=9, pattern=r"^[0-9AB]{2,9}$")]


class Payload(BaseModel):
    """A frozen wire model. Unknown fields are ignored so that additive changes stay compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(Payload):
    """An event payload (the `data` of a CloudEvent).

    `type_name` is the CloudEvents `type`; `key_field` names the attribute whose value is the
    Kafka record key (the aggregate that must stay ordered), or None for unkeyed events;
    `subject_field` names the attribute copied to `ce_subject`.
    """

    type_name: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str | None]
    subject_field: ClassVar[str | None] = None

    def record_key(self) -> str | None:
        return None if self.key_field is None else str(getattr(self, self.key_field))

    def subject(self) -> str | None:
        return None if self.subject_field is None else str(getattr(self, self.subject_field))


class Command(Event):
    """A command sent by a member's tool. Signed with the member's registered key."""

    command_id: Id = Field(description="Unique id of the command, used to reject replays")
    issued_at: str = Field(description="RFC 3339 time the command was issued")
    member_id: Id = Field(description="The member whose registered key signed the command")
    signature: str = Field(description="Base64url Ed25519 signature over the canonical body")


class TerritoryLevel(StrEnum):
    commune = "commune"
    epci = "epci"
    departement = "departement"
    region = "region"
    national = "national"


class Territory(Payload):
    """A (level, code) pair: `32` is both a région and a département, so the level is explicit."""

    level: TerritoryLevel
    code: str = Field(
        min_length=1, max_length=12, description="INSEE code or EPCI SIREN; 'FR' for national"
    )
