"""Evaluation's source tables: the common grid, self-diagnosis and follow-ups."""

from __future__ import annotations

from services.evaluation.settings import EvaluationSettings
from services.kit.clock import Clock
from services.kit.outbox import Emitter
from services.kit.parts import ServicePart


def build_grid_part(settings: EvaluationSettings, clock: Clock, emit: Emitter) -> ServicePart:
    """Grids, evaluations, self-diagnosis and follow-ups; see docs/services/evaluation.md."""
    return ServicePart()
