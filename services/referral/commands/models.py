"""The record of every authenticated member command: the replay guard and the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


class MemberCommand(SQLModel, table=True):
    """One signed command that verified and ran (applied) or was refused (rejected).

    Written in the consumer's transaction with the command's effect; a command id found here
    is acknowledged without any check, so a replay of the log acts once and never fails on
    freshness. No free text: a command's message is sealed with the referral's messages.
    """

    __tablename__ = "referral_member_command"

    command_id: str = Field(primary_key=True, max_length=64)
    command_type: str = Field(max_length=200)
    member_id: str = Field(index=True, max_length=64)
    key_id: str = Field(max_length=64, description="The registered key that verified it")
    project_id: str = Field(max_length=64)
    referral_id: str = Field(index=True, max_length=64)
    issued_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    outcome: str = Field(max_length=20, description="applied or rejected")
    reason: str | None = Field(default=None, max_length=2000)


COMMAND_MODELS: list[type[SQLModel]] = [MemberCommand]
