"""`/v1/preferences`, `/v1/feed`, `/v1/members/{id}/feed`, `/v1/unsubscribe`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, update
from sqlmodel import col, select

from services.kit.auth import CurrentPrincipal, Principal
from services.kit.errors import ApiError
from services.kit.http import RuntimeDep, SessionDep
from services.notify.people import domain
from services.notify.people.models import (
    FeedItem,
    FeedItemPublic,
    FeedPage,
    MemberFeedEntry,
    MemberFeedItem,
    MemberFeedPage,
    Preference,
    PreferencesPublic,
    PreferencesUpdate,
    RecipientSettings,
)
from services.notify.people.rules import kinds_with_people

router = APIRouter(tags=["people"])


def feed_subjects(who: Principal) -> list[str]:
    """What a principal's in-app feed shows: its own items, its member's shared inbox, and
    for network operators their networks' escalations."""
    subjects = [who.subject]
    if who.member_id:
        subjects.append(f"member:{who.member_id}")
    if who.has_role("network_operator"):
        subjects += [f"network:{n}" for n in who.network_ids]
    return list(dict.fromkeys(subjects))


# --- preferences ------------------------------------------------------------------------------
async def _preferences(session: SessionDep, subject: str) -> PreferencesPublic:
    rows = (await session.exec(select(Preference).where(Preference.subject == subject))).all()
    settings = await session.get(RecipientSettings, subject)
    modes = {p.kind: p.mode for p in rows}
    return PreferencesPublic.model_validate(
        {
            "subject": subject,
            "language": settings.language if settings else "fr",
            "default": modes.pop("*", "immediate"),
            "kinds": modes,
            "available_kinds": kinds_with_people(),
        }
    )


@router.get("/v1/preferences", response_model=PreferencesPublic)
async def get_preferences(who: CurrentPrincipal, session: SessionDep) -> PreferencesPublic:
    """The current principal's preferences: a mode per kind (`immediate`, `daily`, `off`)."""
    return await _preferences(session, who.subject)


@router.put("/v1/preferences", response_model=PreferencesPublic)
async def put_preferences(
    body: PreferencesUpdate, who: CurrentPrincipal, session: SessionDep
) -> PreferencesPublic:
    known = set(kinds_with_people())
    unknown = sorted(k for k in body.kinds if k not in known)
    if unknown:
        raise ApiError(
            422,
            "validation",
            summary=f"kinds : types inconnus {', '.join(unknown)} (connus : {', '.join(known)})",
        )
    subject = who.subject
    if body.language is not None:
        settings = await session.get(RecipientSettings, subject) or RecipientSettings(
            subject=subject
        )
        settings.language = body.language
        session.add(settings)
    changes: dict[str, str | None] = dict(body.kinds)
    if body.default is not None:
        changes["*"] = body.default
    for kind, mode in changes.items():
        row = await session.get(Preference, (subject, kind))
        if mode is None:
            if row is not None:
                await session.delete(row)
            continue
        row = row or Preference(subject=subject, kind=kind, mode=mode)
        row.mode = mode
        session.add(row)
    await session.commit()
    return await _preferences(session, subject)


@router.get("/v1/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: str) -> HTMLResponse:
    """What a person sees when they open the List-Unsubscribe link: a one-button form."""
    safe = token.replace('"', "")
    return HTMLResponse(
        "<!doctype html><html lang=fr><meta charset=utf-8><title>Relais</title>"
        "<p>Ne plus recevoir ces messages de Relais ?</p>"
        f'<form method=post action="/v1/unsubscribe?token={safe}">'
        "<button>Me désabonner</button></form></html>"
    )


@router.post("/v1/unsubscribe")
async def unsubscribe(request: Request, session: SessionDep, token: str) -> dict[str, str]:
    """One-click unsubscribe (RFC 8058): the signed token names the subject and the kind."""
    secret: str = request.app.state.settings.unsubscribe_secret
    found = domain.check_unsubscribe_token(secret, token)
    if found is None:
        raise ApiError(400, "notify.unsubscribe_invalid")
    subject, kind = found
    row = await session.get(Preference, (subject, kind)) or Preference(
        subject=subject, kind=kind, mode="off"
    )
    row.mode = "off"
    session.add(row)
    await session.commit()
    return {"subject": subject, "kind": kind, "mode": "off"}


# --- in-app feed --------------------------------------------------------------------------------
@router.get("/v1/feed", response_model=FeedPage)
async def get_feed(
    who: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unread_only: bool = False,
) -> FeedPage:
    subjects = feed_subjects(who)
    query = select(FeedItem).where(col(FeedItem.subject).in_(subjects))
    if unread_only:
        query = query.where(col(FeedItem.read_at).is_(None))
    rows = await session.exec(
        query.order_by(col(FeedItem.created_at).desc(), col(FeedItem.id)).limit(limit)
    )
    unread = await session.exec(
        select(func.count())
        .select_from(FeedItem)
        .where(col(FeedItem.subject).in_(subjects), col(FeedItem.read_at).is_(None))
    )
    items = [
        FeedItemPublic.model_validate(item, update={"read": item.read_at is not None})
        for item in rows.all()
    ]
    return FeedPage(items=items, unread=int(unread.one()))


@router.post("/v1/feed/{item_id}/read", response_model=FeedItemPublic)
async def mark_read(
    item_id: str, who: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> FeedItemPublic:
    item = await session.get(FeedItem, item_id)
    if item is None or item.subject not in feed_subjects(who):
        raise ApiError(404, "not_found", what="Notification", id=item_id)
    if item.read_at is None:
        item.read_at = runtime.clock.now()
        session.add(item)
        await session.commit()
    return FeedItemPublic.model_validate(item, update={"read": True})


@router.post("/v1/feed/read-all")
async def mark_all_read(
    who: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> dict[str, int]:
    result = await session.exec(
        update(FeedItem)  # type: ignore[call-overload]
        .where(col(FeedItem.subject).in_(feed_subjects(who)), col(FeedItem.read_at).is_(None))
        .values(read_at=runtime.clock.now())
    )
    await session.commit()
    return {"marked": int(result.rowcount or 0)}


# --- per-member change feed ---------------------------------------------------------------------
@router.get("/v1/members/{member_id}/feed", response_model=MemberFeedPage)
async def member_feed(
    member_id: str,
    who: CurrentPrincipal,
    session: SessionDep,
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MemberFeedPage:
    """The member's change feed: the same items, in the same order, as `member.<id>.feed`."""
    if who.member_id != member_id and not who.has_role("platform_admin"):
        raise ApiError(403, "auth.forbidden", reason="on ne lit que le fil de sa structure")
    query = select(MemberFeedItem).where(MemberFeedItem.member_id == member_id)
    if after is not None:
        query = query.where(col(MemberFeedItem.seq) > int(after))
    rows = list((await session.exec(query.order_by(col(MemberFeedItem.seq)).limit(limit))).all())
    items = [
        MemberFeedEntry(
            cursor=str(row.seq),
            id=row.event_id,
            type=row.type,
            subject=row.subject,
            time=row.time,
            data=row.data,
        )
        for row in rows
    ]
    return MemberFeedPage(items=items, next=items[-1].cursor if items else after)
