"""The demo's cast: the structures of the credentials file, and who plays which role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class DemoChainError(RuntimeError):
    """The chain could not be played (the message says which call failed and why)."""


@dataclass(frozen=True)
class Structure:
    id: str
    name: str
    slug: str
    api_key: str
    schemes: tuple[str, ...] = ()
    commune: str | None = None

    @classmethod
    def from_document(cls, member: Mapping[str, Any]) -> Structure:
        """A member as `var/demo-credentials.json` lists it."""
        return cls(
            id=str(member["id"]),
            name=str(member["name"]),
            slug=str(member.get("slug") or member["id"]),
            api_key=str(member["api_key"]),
            schemes=tuple(member.get("schemes") or ()),
            commune=member.get("commune"),
        )


# role -> (preferred demo slugs, schemes that fit when those are missing)
ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accueil": (("piva-montdidier", "cress-hdf"), ("piva_plus", "cress")),
    "declining": (("dla-somme",), ("dla",)),
    "starter": (("starter-somme",), ("starter_ess",)),
    "incubator": (("incubateur-amiens",), ("incubateur",)),
    "fund": (("fonds-picardie",), ("france_active",)),
}


@dataclass(frozen=True)
class Cast:
    accueil: Structure  # registers the project, orients it first
    declining: Structure  # declines: hors stade
    starter: Structure  # Starter ESS operator: accepts, completes, orients onward
    incubator: Structure  # redirects: réorienté ailleurs
    fund: Structure  # France Active-like fund: financement obtenu

    @classmethod
    def choose(cls, structures: Sequence[Structure]) -> Cast:
        by_slug = {s.slug: s for s in structures}
        chosen: dict[str, Structure] = {}
        for role, (slugs, schemes) in ROLES.items():
            taken = {s.id for s in chosen.values()}
            found = next((by_slug[s] for s in slugs if s in by_slug), None)
            if found is None or found.id in taken:
                found = next(
                    (
                        s
                        for s in structures
                        if s.id not in taken and any(x in s.schemes for x in schemes)
                    ),
                    None,
                )
            if found is None:
                raise DemoChainError(
                    f"aucune structure pour le rôle « {role} » (dispositif {' ou '.join(schemes)})"
                    " dans le fichier d'identifiants : la démo est-elle chargée ?"
                )
            chosen[role] = found
        return cls(**chosen)

    def all(self) -> list[Structure]:
        return [self.accueil, self.declining, self.starter, self.incubator, self.fund]
