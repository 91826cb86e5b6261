"""Subscription use cases: create, read, change, delete, rotate the secret; the URL checks."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.events.referral import ReferralSent
from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.errors import ApiError
from services.notify.webhooks import domain
from services.notify.webhooks.delivery import Webhooks
from services.notify.webhooks.models import (
    SecretRotate,
    SecretRotated,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from services.notify.webhooks.secrets import SecretError, check_secret, generate_secret

log = logging.getLogger("relais.notify.webhooks")
SETTINGS_SUBSCRIPTION = "sub_settings"


async def check_url(url: str, *, allow_loopback: bool) -> None:
    """422 for a URL webhooks must not call: not http(s), no host, or a name or address that
    is loopback (unless allowed), link-local, private, reserved or a metadata service."""
    try:
        target = domain.check_url(url, allow_loopback=allow_loopback)
        if target.literal_ip:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise domain.UrlRefused("webhook.url_unresolvable", host=target.host) from exc
        for info in infos:
            refused = domain.refused_address(str(info[4][0]), allow_loopback=allow_loopback)
            if refused is not None:
                raise refused
    except domain.UrlRefused as refused:
        raise refused.api_error() from None


def _event_types(requested: list[str] | None) -> list[str]:
    if not requested:
        return []  # all subscribable types, including those added later
    unknown = sorted(set(requested) - set(domain.SUBSCRIBABLE))
    if unknown:
        raise ApiError(422, "webhook.event_types", types=", ".join(unknown))
    return sorted(set(requested))


def _secret(given: str | None) -> str:
    if given is None:
        return generate_secret()
    try:
        return check_secret(given)
    except SecretError as exc:
        raise ApiError(422, "webhook.secret") from exc


async def create(
    hooks: Webhooks, session: AsyncSession, body: SubscriptionCreate, who: Principal
) -> SubscriptionCreated:
    scope = domain.scope_of(who)
    await check_url(body.url, allow_loopback=hooks.policy.allow_loopback)
    networks = domain.narrowed_networks(scope, body.network_ids)
    secret, now = _secret(body.secret), hooks.clock.now()
    sub = Subscription(
        url=body.url.strip(),
        event_types=_event_types(body.event_types),
        network_ids=networks,
        description=body.description,
        owner_kind=scope.kind,
        owner_member_id=scope.member_id,
        owner_network_ids=list(scope.network_ids),
        created_by=who.subject[:200],
        secret_sealed="",
        created_at=now,
        updated_at=now,
    )
    sub.secret_sealed = hooks.box.seal(sub.id, secret)
    session.add(sub)
    await session.commit()
    log.info("webhook subscription %s created by %s (%s)", sub.id, who.subject, scope.kind)
    return SubscriptionCreated(**SubscriptionPublic.of(sub).model_dump(), secret=secret)


async def visible(session: AsyncSession, who: Principal) -> list[Subscription]:
    """The subscriptions `who` manages (deleted ones excepted)."""
    query = select(Subscription).where(Subscription.status != "deleted")
    if not who.has_role("platform_admin"):
        if who.member_id is not None:
            query = query.where(Subscription.owner_member_id == who.member_id)
        else:
            query = query.where(Subscription.owner_kind == "network")
    rows = (await session.exec(query.order_by(col(Subscription.created_at)))).all()
    return [sub for sub in rows if domain.manages(who, sub.owner)]


async def get(
    session: AsyncSession, subscription_id: str, who: Principal, *, deleted: bool = False
) -> Subscription:
    """The subscription, or the same 404 whether it does not exist or is not yours."""
    sub = await session.get(Subscription, subscription_id)
    if (
        sub is None
        or (sub.status == "deleted" and not deleted)
        or not domain.manages(who, sub.owner)
    ):
        raise ApiError(404, "not_found", what="Abonnement", id=subscription_id)
    return sub


async def update(
    hooks: Webhooks,
    session: AsyncSession,
    subscription_id: str,
    body: SubscriptionUpdate,
    who: Principal,
) -> Subscription:
    sub = await get(session, subscription_id, who)
    changes = body.model_dump(exclude_unset=True)
    if "url" in changes and body.url is not None:
        await check_url(body.url, allow_loopback=hooks.policy.allow_loopback)
        sub.url = body.url.strip()
    if "event_types" in changes:
        sub.event_types = _event_types(body.event_types)
    if "network_ids" in changes:
        sub.network_ids = domain.narrowed_networks(sub.owner, body.network_ids)
    if "description" in changes:
        sub.description = body.description
    if body.status == "active" and sub.status != "active":
        sub.status, sub.disabled_reason, sub.failing_since = "active", None, None
    elif body.status == "disabled" and sub.status == "active":
        sub.status, sub.disabled_reason = "disabled", "by_owner"
    sub.updated_at = hooks.clock.now()
    session.add(sub)
    await session.commit()
    return sub


async def delete(
    hooks: Webhooks, session: AsyncSession, subscription_id: str, who: Principal
) -> None:
    """Soft delete: the delivery log stays readable; pending deliveries are not sent."""
    sub = await get(session, subscription_id, who)
    sub.status, sub.disabled_reason, sub.updated_at = "deleted", "deleted", hooks.clock.now()
    session.add(sub)
    await session.commit()
    log.info("webhook subscription %s deleted by %s", sub.id, who.subject)


async def rotate(
    hooks: Webhooks,
    session: AsyncSession,
    subscription_id: str,
    body: SecretRotate,
    who: Principal,
) -> SecretRotated:
    """A new secret; the old one keeps signing (beside it) until the overlap ends."""
    sub = await get(session, subscription_id, who)
    secret, now = _secret(body.secret), hooks.clock.now()
    overlap = (
        hooks.policy.overlap if body.overlap_hours is None else timedelta(hours=body.overlap_hours)
    )
    if overlap > timedelta(0):
        sub.previous_secret_sealed = sub.secret_sealed
        sub.previous_secret_expires_at = now + overlap
    else:
        sub.previous_secret_sealed, sub.previous_secret_expires_at = None, None
    sub.secret_sealed, sub.updated_at = hooks.box.seal(sub.id, secret), now
    session.add(sub)
    await session.commit()
    log.info("webhook subscription %s: secret rotated", sub.id)
    return SecretRotated(
        subscription_id=sub.id,
        secret=secret,
        previous_secret_expires_at=sub.previous_secret_expires_at,
    )


async def provision_from_settings(
    hooks: Webhooks, db: Database, url: str | None, secret: str
) -> None:
    """`NOTIFY_WEBHOOK_URL`: an operator-configured, platform-level subscription to sent
    referrals, signed with `NOTIFY_WEBHOOK_SECRET` (the walking skeleton's endpoint)."""
    async with db.transaction() as session:
        sub = await session.get(Subscription, SETTINGS_SUBSCRIPTION)
        now = hooks.clock.now()
        if url is None:
            if sub is not None and sub.status != "deleted":
                sub.status, sub.disabled_reason, sub.updated_at = "deleted", "setting_removed", now
                session.add(sub)
            return
        try:
            domain.check_url(url, allow_loopback=hooks.policy.allow_loopback)
        except domain.UrlRefused as refused:
            log.error("NOTIFY_WEBHOOK_URL refused (%s %s): not used", refused.code, refused.params)
            return
        if sub is None:
            sub = Subscription(
                id=SETTINGS_SUBSCRIPTION,
                url=url,
                event_types=[ReferralSent.type_name],
                owner_kind="platform",
                created_by="settings",
                description="NOTIFY_WEBHOOK_URL",
                secret_sealed="",
                created_at=now,
                updated_at=now,
            )
        elif sub.status == "deleted" or sub.url != url:
            sub.status, sub.disabled_reason, sub.failing_since = "active", None, None
        sub.url, sub.updated_at = url, now
        sub.secret_sealed = hooks.box.seal(sub.id, secret)
        session.add(sub)
