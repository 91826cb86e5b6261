"""The match index, kept in memory and rebuilt from the database only when offers changed.

`invalidate()` is a cheap, thread-safe flag: the loader registers it on the database's
commit notifications (`OFFERS_CHANGED`, marked by the handlers that change offers or members),
so a commit in this process rebuilds the index before the next search. `current()` rebuilds at
most once however many requests wait for it. Commits of other instances are caught by a cheap
fingerprint query at most every `recheck_seconds`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, func, select

from services.directory.handlers.common import OFFERS_CHANGED
from services.directory.matching import IndexedOffer, OfferIndex
from services.directory.models import Member, Offer, OfferTerritory
from services.kit.db import Database, table_of

log = logging.getLogger("relais.directory.index")

OFFERS = table_of(Offer)
MEMBERS = table_of(Member)
TERRITORIES = table_of(OfferTerritory)
LIVE = (OFFERS.c.status == "published") & (MEMBERS.c.status == "active")


class OfferIndexLoader:
    def __init__(
        self, db: Database, *, recheck_seconds: float = 5.0, watch: str | None = OFFERS_CHANGED
    ) -> None:
        self.db = db
        self.recheck_seconds = recheck_seconds
        self._generation = 0  # bumped by invalidate()
        self._flag_lock = threading.Lock()
        self._built_generation = -1
        self._index: OfferIndex | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._rebuild: asyncio.Lock | None = None
        self.builds = 0
        if watch:
            db.on_commit(watch, self.invalidate)

    def invalidate(self) -> None:
        """Offers or members changed: rebuild before the next search (any thread)."""
        with self._flag_lock:
            self._generation += 1

    def _fresh(self) -> bool:
        return self._index is not None and self._built_generation == self._generation

    async def current(self) -> OfferIndex:
        index = self._index
        if (
            index is not None
            and self._built_generation == self._generation
            and time.monotonic() - self._checked_at < self.recheck_seconds
        ):
            return index
        if self._rebuild is None:
            self._rebuild = asyncio.Lock()
        async with self._rebuild:  # one rebuild; the other requests wait and reuse it
            if self._fresh() and time.monotonic() - self._checked_at < self.recheck_seconds:
                assert self._index is not None
                return self._index
            if self._fresh():
                # Up to date as far as this process knows: did another instance change offers?
                fingerprint = await self._read_fingerprint()
                self._checked_at = time.monotonic()
                if fingerprint == self._fingerprint:
                    assert self._index is not None
                    return self._index
            generation = self._generation  # a change committed during the load rebuilds again
            started = time.perf_counter()
            fingerprint = await self._read_fingerprint()
            index = await self._load()
            self._index, self._fingerprint = index, fingerprint
            self._built_generation, self._checked_at = generation, time.monotonic()
            self.builds += 1
            log.info(
                "match index built: %d offers in %.0f ms",
                len(index),
                (time.perf_counter() - started) * 1000,
            )
            return index

    async def _read_fingerprint(self) -> tuple[Any, ...]:
        """Counts and last update times: they move with any change that the index shows."""
        query = select(
            select(func.count()).select_from(OFFERS).scalar_subquery(),
            select(func.count()).where(OFFERS.c.status == "published").scalar_subquery(),
            select(func.max(OFFERS.c.updated_at)).scalar_subquery(),
            select(func.count()).where(MEMBERS.c.status == "active").scalar_subquery(),
            select(func.max(MEMBERS.c.updated_at)).scalar_subquery(),
        )
        async with self.db.engine.connect() as conn:
            return tuple((await conn.execute(query)).one())

    async def _load(self) -> OfferIndex:
        o = OFFERS.c
        # JSON lists come back as text and are decoded once per distinct value (they repeat a
        # lot: '[]', '["creation"]'...), which is far cheaper than a json.loads per cell.
        lists = [
            cast(column, Text)
            for column in (
                o.stages,
                o.themes,
                o.project_types,
                o.legal_forms,
                o.modes_accueil,
                o.required_information,
            )
        ]
        offers = (
            select(
                o.id,
                o.member_id,
                MEMBERS.c.name,
                o.title,
                o.kind,
                *lists,
                o.max_structure_age_months,
                o.employer,
                o.cost,
                o.capacity,
                o.updated_at,
                o.description,
                o.url,
            )
            .join(MEMBERS, MEMBERS.c.id == o.member_id)
            .where(LIVE)
        )
        places = (
            select(TERRITORIES.c.offer_id, TERRITORIES.c.level, TERRITORIES.c.code)
            .join(OFFERS, OFFERS.c.id == TERRITORIES.c.offer_id)
            .join(MEMBERS, MEMBERS.c.id == o.member_id)
            .where(LIVE)
        )
        async with self.db.engine.connect() as conn:
            territory_rows = (await conn.execute(places)).all()
            offer_rows = (await conn.execute(offers)).all()
        # The CPU part in a thread: the event loop keeps serving meanwhile.
        return await asyncio.to_thread(build_index, offer_rows, territory_rows)


def build_index(offer_rows: Sequence[Any], territory_rows: Sequence[Any]) -> OfferIndex:
    territories: dict[str, list[tuple[str, str]]] = {}
    for offer_id, level, code in territory_rows:
        territories.setdefault(offer_id, []).append((level, code))
    decoded: dict[str | None, tuple[str, ...]] = {None: ()}

    def codes(text: str | None) -> tuple[str, ...]:
        value = decoded.get(text)
        if value is None:
            value = decoded[text] = tuple(json.loads(text) or ()) if text else ()
        return value

    return OfferIndex.build(
        IndexedOffer(
            id=row[0],
            member_id=row[1],
            member_name=row[2],
            title=row[3],
            kind=row[4],
            stages=codes(row[5]),
            themes=codes(row[6]),
            project_types=codes(row[7]),
            legal_forms=codes(row[8]),
            modes_accueil=codes(row[9]),
            required_information=codes(row[10]),
            max_structure_age_months=row[11],
            employer=row[12],
            cost=row[13],
            capacity=row[14],
            updated_at=row[15],
            description=row[16] or "",
            url=row[17],
            territories=tuple(sorted(territories.get(row[0], ()))),
        )
        for row in offer_rows
    )
