"""Shared pieces of every benchmark: a result table and the one-line summary."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    name: str
    value: float
    baseline: float | None
    unit: str
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline


@dataclass
class Report:
    title: str
    baseline_label: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: object, **kwargs: object) -> None:
        self.figures.append(Figure(*args, **kwargs))  # type: ignore[arg-type]

    def print(self, console: Console | None = None) -> str:
        console = console or Console()
        table = Table(title=self.title)
        table.add_column("figure")
        table.add_column("Relais", justify="right")
        table.add_column(self.baseline_label, justify="right")
        table.add_column("ratio", justify="right")
        for f in self.figures:
            table.add_row(
                f.name,
                f"{f.value:,.1f} {f.unit}",
                "—" if f.baseline is None else f"{f.baseline:,.1f} {f.unit}",
                "—" if f.ratio is None else f"{f.ratio:.2f}×",
            )
        console.print(table)
        for note in self.notes:
            console.print(f"[dim]{note}[/dim]")
        summary = self.summary()
        console.print(summary, highlight=False, soft_wrap=True)
        return summary

    def summary(self) -> str:
        parts = []
        for f in self.figures:
            ratio = "" if f.ratio is None else f" ({f.ratio:.2f}× baseline)"
            parts.append(f"{f.name} {f.value:,.1f} {f.unit}{ratio}")
        return f"SUMMARY {self.title}: " + "; ".join(parts)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
