"""The live projection: every consumed event is archived, then folded into the projections.

The kit's inbox already makes a redelivered event a no-op; folding is idempotent anyway, so
an event archived or folded twice (a replay into another consumer group, a rebuild's
catch-up) changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from contracts.base import Event
from services.evaluation.handlers.store import archive, current_generation, fold_event
from services.evaluation.territory import territory_lookup
from services.kit.consumer import HandlerContext

log = logging.getLogger("relais.evaluation")


async def on_event(_evt: Event, ctx: HandlerContext) -> None:
    envelope = ctx.envelope
    data: dict[str, Any] = dict(envelope.data)
    await archive(ctx.session, envelope.id, envelope.type, envelope.key, envelope.time, data)
    generation = await current_generation(ctx.session, share_lock=True)
    changed = await fold_event(
        ctx.session, generation, envelope.id, envelope.type, envelope.time, data, territory_lookup()
    )
    subject = data.get("referral_id") or data.get("member_id") or "search statistics"
    log.info(
        "%s %s projected (%s)",
        envelope.type.removeprefix("fr.relais."),
        subject,
        "changed" if changed else "no change",
    )
