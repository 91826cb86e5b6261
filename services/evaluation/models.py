"""Evaluation tables: the archive of consumed events (the source for rebuilds) and projections.

Projections carry a `generation`: readers use the one `evaluation_projection_state` points
at, a rebuild fills the next one beside it and swaps the pointer in one transaction, so reads
never see a half-built projection. The member and search tables are small and are replaced
inside that same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from services.kit.db import UtcDateTime


def _time(*, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True, index=index))


class ArchivedEvent(SQLModel, table=True):
    """Every event the service consumed, so projections can be rebuilt without the broker."""

    __tablename__ = "evaluation_event_archive"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=64, unique=True)
    type: str = Field(max_length=200, index=True)
    key: str | None = Field(default=None, max_length=200)
    time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ProjectionState(SQLModel, table=True):
    """Which generation of the projections readers use, and what the last rebuild did."""

    __tablename__ = "evaluation_projection_state"

    name: str = Field(primary_key=True, max_length=40)
    generation: int = 1
    events: int = 0
    rebuilt_at: datetime | None = _time()


class ReferralFactRow(SQLModel, table=True):
    """One referral: the time of each transition and its values (status is derived)."""

    __tablename__ = "evaluation_referral_fact"
    __table_args__ = (
        Index("ix_evaluation_referral_fact_waiting", "generation", "waiting_since"),
        Index("ix_evaluation_referral_fact_receiver", "generation", "receiver_member_id", "month"),
        Index("ix_evaluation_referral_fact_sender", "generation", "sender_member_id", "month"),
        Index("ix_evaluation_referral_fact_project", "generation", "project_id"),
    )

    generation: int = Field(primary_key=True)
    referral_id: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(default="", max_length=64)
    sender_member_id: str = Field(default="", max_length=64)
    receiver_member_id: str = Field(default="", max_length=64)
    network_id: str = Field(default="", max_length=64)
    stage: str = Field(default="", max_length=40)
    commune: str = Field(default="", max_length=10)
    departement: str = Field(default="", max_length=5)
    epci: str = Field(default="", max_length=12)
    month: str = Field(default="", max_length=7)
    redirected_from: str = Field(default="", max_length=64)
    sent_at: datetime | None = _time()
    accepted_at: datetime | None = _time()
    declined_at: datetime | None = _time()
    decline_reason: str = Field(default="", max_length=60)
    redirected_to: str = Field(default="", max_length=64)
    info_requested_at: datetime | None = _time()
    cancelled_at: datetime | None = _time()
    expired_at: datetime | None = _time()
    started_at: datetime | None = _time()
    completed_at: datetime | None = _time()
    outcome: str = Field(default="", max_length=60)
    jobs_created: int = 0
    failed_at: datetime | None = _time()
    failure_reason: str = Field(default="", max_length=60)
    waiting_since: datetime | None = _time()


class RollupFigures(SQLModel):
    """The counters of rollups.METRICS (same names, same order)."""

    referrals: int = 0
    accepted: int = 0
    declined: int = 0
    info_requested: int = 0
    answered: int = 0
    cancelled: int = 0
    expired: int = 0
    started: int = 0
    completed: int = 0
    failed: int = 0
    open: int = 0
    waiting: int = 0
    jobs: int = 0
    redirected: int = 0
    chains: int = 0
    stops: int = 0
    unmet: int = 0
    decl_hors_territoire: int = 0
    decl_hors_stade: int = 0
    decl_capacite_atteinte: int = 0
    decl_dossier_incomplet: int = 0
    decl_hors_champ_ess: int = 0
    decl_reoriente_ailleurs: int = 0
    decl_autre: int = 0
    out_structure_creee: int = 0
    out_activite_lancee: int = 0
    out_financement_obtenu: int = 0
    out_projet_abandonne: int = 0
    out_reoriente: int = 0
    out_autre: int = 0
    ans_00: int = 0
    ans_01: int = 0
    ans_02: int = 0
    ans_03: int = 0
    ans_04: int = 0
    ans_05: int = 0
    ans_06: int = 0
    ans_07: int = 0
    ans_08: int = 0
    ans_09: int = 0
    ans_10: int = 0
    ans_11: int = 0
    sta_00: int = 0
    sta_01: int = 0
    sta_02: int = 0
    sta_03: int = 0
    sta_04: int = 0
    sta_05: int = 0
    sta_06: int = 0
    sta_07: int = 0
    sta_08: int = 0
    sta_09: int = 0
    sta_10: int = 0
    sta_11: int = 0


class RollupAll(RollupFigures, table=True):
    __tablename__ = "evaluation_rollup_all"

    generation: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    stage: str = Field(primary_key=True, max_length=40)


class RollupNetwork(RollupFigures, table=True):
    __tablename__ = "evaluation_rollup_network"

    generation: int = Field(primary_key=True)
    network_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)
    stage: str = Field(primary_key=True, max_length=40)


class RollupTerritory(RollupFigures, table=True):
    __tablename__ = "evaluation_rollup_territory"
    __table_args__ = (
        Index("ix_evaluation_rollup_territory_dep", "generation", "departement", "month"),
    )

    generation: int = Field(primary_key=True)
    network_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)
    stage: str = Field(primary_key=True, max_length=40)
    departement: str = Field(primary_key=True, max_length=5)


class RollupEpci(RollupFigures, table=True):
    __tablename__ = "evaluation_rollup_epci"
    __table_args__ = (Index("ix_evaluation_rollup_epci_epci", "generation", "epci", "month"),)

    generation: int = Field(primary_key=True)
    network_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)
    departement: str = Field(primary_key=True, max_length=5)
    epci: str = Field(primary_key=True, max_length=12)


class RollupMember(RollupFigures, table=True):
    __tablename__ = "evaluation_rollup_member"
    __table_args__ = (
        Index("ix_evaluation_rollup_member_network", "generation", "network_id", "month"),
    )

    generation: int = Field(primary_key=True)
    member_id: str = Field(primary_key=True, max_length=64)
    role: str = Field(primary_key=True, max_length=10)
    network_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)


class KnownMember(SQLModel, table=True):
    """Evaluation's copy of the directory's members: networks (for scoping) and schemes."""

    __tablename__ = "evaluation_member"

    member_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    network_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    schemes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    commune: str = Field(default="", max_length=10)
    as_of: datetime | None = _time()
    as_of_event: str = Field(default="", max_length=64)


class SearchStat(SQLModel, table=True):
    """Match searches per period and territory (from directory.search_statistics)."""

    __tablename__ = "evaluation_search_stat"

    period_start: str = Field(primary_key=True, max_length=40)
    period_end: str = Field(primary_key=True, max_length=40)
    level: str = Field(primary_key=True, max_length=20)
    code: str = Field(primary_key=True, max_length=12)
    stage: str = Field(primary_key=True, max_length=40)
    departement: str = Field(default="", max_length=5, index=True)
    epci: str = Field(default="", max_length=12)
    month: str = Field(default="", max_length=7)
    searches: int = 0
    searches_without_result: int = 0


ROLLUP_MODELS: dict[str, type[RollupFigures]] = {
    "all": RollupAll,
    "network": RollupNetwork,
    "territory": RollupTerritory,
    "epci": RollupEpci,
    "member": RollupMember,
}
PROJECTION_MODELS: list[type[SQLModel]] = [
    ArchivedEvent,
    ProjectionState,
    ReferralFactRow,
    RollupAll,
    RollupNetwork,
    RollupTerritory,
    RollupEpci,
    RollupMember,
    KnownMember,
    SearchStat,
]
