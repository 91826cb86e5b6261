"""Geography the demo generator needs: which départements a territory reaches, neighbours."""

from __future__ import annotations

from functools import cache

from services.directory.geo import Geography, load

__all__ = ["departements_reached", "epci_communes", "geography", "reaches"]


def geography() -> Geography:
    return load()


@cache
def _epci_index() -> dict[str, tuple[tuple[str, str], ...]]:
    """EPCI SIREN -> its (commune code, département) pairs, sorted by commune code."""
    found: dict[str, list[tuple[str, str]]] = {}
    for commune in load().communes.values():
        if commune.epci:
            found.setdefault(commune.epci, []).append((commune.code, commune.departement))
    return {epci: tuple(sorted(pairs)) for epci, pairs in found.items()}


def epci_communes(epci: str) -> tuple[str, ...]:
    """The communes of an EPCI, by code (a stable order for seeded choices)."""
    return tuple(code for code, _ in _epci_index().get(epci, ()))


def departements_reached(level: str, code: str) -> frozenset[str] | None:
    """The départements a territory reaches, even in part; None means every one (national).

    An EPCI reaches each département any of its communes is in (some straddle two).
    """
    geo = load()
    if level == "national":
        return None
    if level == "region":
        return frozenset(d.code for d in geo.departements.values() if d.region == code)
    if level == "departement":
        return frozenset({code})
    if level == "epci":
        return frozenset(dep for _, dep in _epci_index().get(code, ()))
    commune = geo.commune(code)
    return frozenset({commune.departement}) if commune else frozenset()


def reaches(territories: tuple[tuple[str, str], ...], departement: str) -> bool:
    """True when any of these territories covers any commune of the département."""
    for level, code in territories:
        reached = departements_reached(level, code)
        if reached is None or departement in reached:
            return True
    return False
