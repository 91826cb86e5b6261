"""Consumer side: keep the projections, fan out to member feeds, record who must be told.

One handler for every routed event type (the rules are data, `rules.RULES`). It runs in the
consumer's transaction: projections, member-feed outbox rows, in-app items, notifications and
their timers commit together with the inbox row. Emails leave later, from timers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.base import Event
from contracts.topics import member_feed_topic
from services.directory.geo import Geography
from services.kit.consumer import HandlerContext
from services.kit.db import stage_insert, table_of
from services.kit.outbox import add_event
from services.kit.timers import schedule
from services.notify.people import domain
from services.notify.people.models import (
    FeedItem,
    MemberFeedItem,
    MemberView,
    Notification,
    Preference,
    ProjectView,
    RecipientSettings,
    ReferralView,
)
from services.notify.people.rules import RULES, Channel, kind_of
from services.notify.people.texts import title_and_sentence
from services.notify.people.topics import FeedTopics

log = logging.getLogger("relais.notify.people")

T = TypeVar("T", bound=SQLModel)
# Insert-only rows of the hot path go in as Core rows (kit.db.stage_insert): no ORM object.
FEED_TABLE = table_of(FeedItem)
NOTIFICATION_TABLE = table_of(Notification)
MEMBER_FEED_TABLE = table_of(MemberFeedItem)

EMAIL_TIMER = "notify.people.email"
DIGEST_TIMER = "notify.people.digest"

# Non-personal facts a notification keeps to be worded later (codes, ids, public names).
CONTEXT_FIELDS = (
    "referral_id",
    "project_id",
    "sender_member_id",
    "receiver_member_id",
    "member_id",
    "offer_id",
    "stage",
    "commune",
    "reason",
    "outcome",
    "days_open",
    "months_without_update",
    "command_type",
    "years_after",
    "subscription_id",
)


@dataclass
class PeopleDeps:
    topics: FeedTopics
    geo: Callable[[], Geography]
    public_base_url: str
    digest_hour: int


class Rows:
    """The rows one handler call reads, misses included: `session.get` would query the
    database again for a row it did not find, and the steps below ask for the same ones."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._known: dict[tuple[type[SQLModel], str], Any] = {}

    async def get(self, model: type[T], key: str) -> T | None:
        if (model, key) not in self._known:
            self._known[(model, key)] = await self.session.get(model, key)
        row: T | None = self._known[(model, key)]
        return row

    def put(self, model: type[SQLModel], key: str, row: SQLModel) -> None:
        self._known[(model, key)] = row

    async def members(self, ids: Iterable[str | None]) -> None:
        """Read these members in one query (the context names up to three)."""
        wanted = {i for i in ids if i} - {key for model, key in self._known if model is MemberView}
        if wanted:
            found = await self.session.exec(
                select(MemberView).where(col(MemberView.member_id).in_(wanted))
            )
            for member in found:
                self._known[(MemberView, member.member_id)] = member
            for missing in wanted:
                self._known.setdefault((MemberView, missing), None)


def on_event(deps: PeopleDeps) -> Callable[[Event, HandlerContext], Awaitable[None]]:
    async def handle(evt: Event, ctx: HandlerContext) -> None:
        rule = RULES[ctx.envelope.type]
        data = evt.model_dump(mode="json")
        rows = Rows(ctx.session)
        await _project(rows, ctx.envelope.type, data)
        facts = await _facts(rows, data)
        for member_id in domain.feed_members(rule, data, facts):
            await _fan_out(ctx, deps, member_id, evt)
        told = domain.recipients(rule, data, facts)
        if not told:
            return
        context = await _context(rows, data, facts)
        kind = kind_of(ctx.envelope.type)
        for subject, channels in told.items():
            await _tell(ctx, deps, subject, channels, kind, context)

    return handle


# --- projections ----------------------------------------------------------------------------
async def _project(rows: Rows, type_name: str, data: dict[str, Any]) -> None:
    name = type_name.split(".")[3] if type_name.count(".") >= 4 else type_name
    session = rows.session
    if type_name.startswith("fr.relais.directory.member_") and "name" in data:
        row = await rows.get(MemberView, data["member_id"]) or MemberView(
            member_id=data["member_id"], name=data["name"]
        )
        row.name, row.network_ids = data["name"], list(data.get("network_ids") or [])
        session.add(row)
        rows.put(MemberView, row.member_id, row)
    elif name == "project_created":
        project = await rows.get(ProjectView, data["project_id"]) or ProjectView(
            project_id=data["project_id"], owner_member_id=data["owner_member_id"]
        )
        project.stage, project.commune = data.get("stage"), data.get("commune")
        session.add(project)
        rows.put(ProjectView, project.project_id, project)
    elif name == "project_updated":
        known = await rows.get(ProjectView, data["project_id"])
        if known is not None:
            known.stage, known.commune = data.get("stage"), data.get("commune")
            session.add(known)
    elif "referral_id" in data and "receiver_member_id" in data:
        await _project_referral(rows, name, data)


async def _project_referral(rows: Rows, name: str, data: dict[str, Any]) -> None:
    view = await rows.get(ReferralView, data["referral_id"])
    if view is None:
        project = await rows.get(ProjectView, data["project_id"])
        view = ReferralView(
            referral_id=data["referral_id"],
            project_id=data["project_id"],
            sender_member_id=data["sender_member_id"],
            receiver_member_id=data["receiver_member_id"],
            stage=project.stage if project else None,
            commune=project.commune if project else None,
        )
    if name == "sent":
        actor = data.get("actor") or ""
        view.sender_user_id = actor.removeprefix("user:") if actor.startswith("user:") else None
        view.network_id = data.get("network_id")
        view.stage = data.get("stage") or view.stage
        view.commune = data.get("commune") or view.commune
    elif name == "assigned":
        view.adviser_user_id = data.get("adviser_user_id")
    view.status = name
    rows.session.add(view)
    rows.put(ReferralView, view.referral_id, view)


async def _facts(rows: Rows, data: dict[str, Any]) -> domain.Facts:
    view = await rows.get(ReferralView, data["referral_id"]) if "referral_id" in data else None
    project_id = data.get("project_id")
    project = await rows.get(ProjectView, project_id) if project_id else None
    networks: tuple[str, ...] = ()
    if view is not None and view.network_id:
        networks = (view.network_id,)
    elif data.get("member_id"):
        member = await rows.get(MemberView, data["member_id"])
        networks = tuple(member.network_ids) if member else ()
    return domain.Facts(
        sender_member_id=data.get("sender_member_id") or (view.sender_member_id if view else None),
        receiver_member_id=data.get("receiver_member_id")
        or (view.receiver_member_id if view else None),
        sender_user_id=view.sender_user_id if view else None,
        adviser_user_id=view.adviser_user_id if view else None,
        network_ids=networks,
        project_id=project_id,
        project_owner=project.owner_member_id if project else None,
    )


async def _context(rows: Rows, data: dict[str, Any], facts: domain.Facts) -> dict[str, Any]:
    context = {k: data[k] for k in CONTEXT_FIELDS if data.get(k) is not None}
    view = await rows.get(ReferralView, data["referral_id"]) if "referral_id" in data else None
    if view is not None:
        context.setdefault("stage", view.stage)
        context.setdefault("commune", view.commune)
    roles = (
        ("sender", facts.sender_member_id),
        ("receiver", facts.receiver_member_id),
        ("member", data.get("member_id")),
    )
    await rows.members(member_id for _, member_id in roles)
    for role, member_id in roles:
        member = await rows.get(MemberView, member_id) if member_id else None
        if member is not None:
            context[f"{role}_name"] = member.name
    return context


# --- member feeds -----------------------------------------------------------------------
async def _fan_out(ctx: HandlerContext, deps: PeopleDeps, member_id: str, evt: Event) -> None:
    topic = member_feed_topic(member_id)
    await deps.topics.ensure(topic)
    envelope = add_event(ctx.session, evt, source=ctx.source, clock=ctx.clock, topic=topic)
    stage_insert(
        ctx.session,
        MEMBER_FEED_TABLE,
        {
            "member_id": member_id,
            "source_event_id": ctx.envelope.id,
            "event_id": envelope.id,
            "type": envelope.type,
            "subject": envelope.subject,
            "key": envelope.key,
            "time": envelope.time,
            "data": envelope.data,
        },
    )


# --- people -------------------------------------------------------------------------------
async def mode_for(session: AsyncSession, subject: str, kind: str) -> str:
    """The subject's mode for `kind`, else its default (`*`), else immediate: one query."""
    found = await session.exec(
        select(Preference.kind, Preference.mode).where(
            Preference.subject == subject, col(Preference.kind).in_((kind, "*"))
        )
    )
    modes = dict(found.all())
    return modes.get(kind) or modes.get("*") or "immediate"


async def language_of(session: AsyncSession, subject: str) -> str:
    settings = await session.get(RecipientSettings, subject)
    return settings.language if settings else "fr"


def link_for(base_url: str, context: dict[str, Any]) -> str | None:
    if context.get("referral_id"):
        return f"{base_url}/orientations/{context['referral_id']}"
    return None


async def _tell(
    ctx: HandlerContext,
    deps: PeopleDeps,
    subject: str,
    channels: set[Channel],
    kind: str,
    context: dict[str, Any],
) -> None:
    session, now, event_id = ctx.session, ctx.clock.now(), ctx.envelope.id
    porteur = subject.startswith("porteur:")
    mode = "immediate" if porteur else await mode_for(session, subject, kind)
    if mode == "off":
        return
    # Ids derive from the event's: a row already there (history read again under a new
    # consumer group, say) is skipped - the feed item by the insert itself, the notification
    # (and its email timer) by one look-up.
    if Channel.in_app in channels and not porteur:
        lang = await language_of(session, subject)
        title, _ = title_and_sentence(kind, context, lang, deps.geo())
        stage_insert(
            session,
            FEED_TABLE,
            {
                "id": domain.feed_item_id(event_id, subject),
                "subject": subject,
                "event_id": event_id,
                "kind": kind,
                "title": title[:300],
                "link": link_for(deps.public_base_url, context),
                "context": context,
                "created_at": now,
                "read_at": None,
            },
            if_absent=True,
        )
    if Channel.email not in channels:
        return
    notification_id = domain.notification_id(event_id, subject)
    if await session.get(Notification, notification_id) is not None:
        return  # told already (its timer too): history read again
    digest_key: str | None = None
    if mode == "daily":
        day, due = domain.digest_slot(now, deps.digest_hour)
        digest_key = domain.digest_key(subject, day)
        await schedule(
            session,
            kind=DIGEST_TIMER,
            key=digest_key,
            due_at=due,
            payload={"digest_key": digest_key, "day": day, "subject": subject},
        )
    else:
        await schedule(
            session,
            kind=EMAIL_TIMER,
            key=notification_id,
            due_at=now,
            payload={"notification_id": notification_id},
            new_key=True,  # the notification was just found absent: so is its timer
        )
    stage_insert(
        session,
        NOTIFICATION_TABLE,
        {
            "id": notification_id,
            "subject": subject,
            "event_id": event_id,
            "event_type": ctx.envelope.type,
            "kind": kind,
            "context": context,
            "mode": mode,
            "digest_key": digest_key,
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        },
    )
    log.info("notification %s (%s) for %s: %s", notification_id, kind, subject, mode)
