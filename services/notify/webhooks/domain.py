"""Pure webhook rules: ids, who may receive what, thin payloads, URL safety, retry timing.

No I/O: the handlers give these functions what they read and the time.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from contracts.envelope import CloudEvent
from contracts.events import referral
from contracts.registry import REGISTRY
from services.kit.auth import Principal
from services.kit.errors import ApiError

# --- what can be subscribed to --------------------------------------------------------------
# Referral events name both parties, so every one of them can be scoped to what its
# subscription's owner may read (DESIGN rule 7). Other types come when their scope is known.
SUBSCRIBABLE: dict[str, type[referral.ReferralEvent]] = {
    spec.type_name: spec.model
    for spec in REGISTRY.values()
    if issubclass(spec.model, referral.ReferralEvent)
}

# The referral's status once the event happened (None: the event does not change it).
STATUS_AFTER: dict[str, str] = {
    referral.ReferralSent.type_name: "sent",
    referral.ReferralAccepted.type_name: "accepted",
    referral.ReferralDeclined.type_name: "declined",
    referral.ReferralCancelled.type_name: "cancelled",
    referral.ReferralExpired.type_name: "expired",
    referral.ReferralInfoRequested.type_name: "info_requested",
    referral.ReferralInfoProvided.type_name: "sent",
    referral.ReferralStarted.type_name: "in_progress",
    referral.ReferralOnHold.type_name: "on_hold",
    referral.ReferralResumed.type_name: "in_progress",
    referral.ReferralCompleted.type_name: "completed",
    referral.ReferralFailed.type_name: "failed",
}

# Thin payloads: ids and non-personal facts only. An allow-list, so a field added to an event
# later (free text, say) never reaches a partner until someone decides it may.
PAYLOAD_FIELDS = (
    "referral_id",
    "project_id",
    "sender_member_id",
    "receiver_member_id",
    "network_id",
    "offer_id",
    "stage",
    "commune",
    "themes",
    "reason",
    "outcome",
    "jobs_created",
    "funding_amount_eur",
    "days_open",
    "redirected_from",
    "redirected_to",
    "message_id",
    "author_member_id",
    "adviser_user_id",
)


def delivery_id(event_id: str, subscription_id: str) -> str:
    """The stable `webhook-id` of one event to one subscription: a restart, a redelivered
    event or a replay never sends it under another id."""
    digest = hashlib.sha256(f"{event_id}|{subscription_id}".encode()).hexdigest()
    return "msg_" + digest[:24]


def webhook_payload(envelope: CloudEvent, network_id: str | None) -> dict[str, Any]:
    data = {k: envelope.data[k] for k in PAYLOAD_FIELDS if envelope.data.get(k) is not None}
    if network_id is not None:
        data["network_id"] = network_id
    status = STATUS_AFTER.get(envelope.type)
    if status is not None:
        data["status"] = status
    return {
        "type": envelope.type,
        "id": envelope.id,
        "timestamp": envelope.time.isoformat(),
        "data": data,
    }


# --- who may subscribe to what ------------------------------------------------------------
OwnerKind = Literal["member", "network", "platform"]
MEMBER_MANAGERS = ("member_admin", "member_tool")
NETWORK_ROLES = ("network_operator", "funder", "partner_system")


@dataclass(frozen=True)
class Scope:
    """What a subscription's owner may read: a member's referrals, networks', or all."""

    kind: OwnerKind
    member_id: str | None = None
    network_ids: tuple[str, ...] = ()


def scope_of(who: Principal) -> Scope:
    """The widest a subscription made by `who` may be (403 for who may not subscribe)."""
    if who.has_role("platform_admin"):
        return Scope("platform")
    if who.member_id is not None:
        if not who.has_role(*MEMBER_MANAGERS):
            raise ApiError(
                403,
                "auth.forbidden",
                reason="les webhooks d'une structure sont gérés par ses administrateurs "
                "ou ses outils (clé d'API)",
            )
        return Scope("member", member_id=who.member_id)
    if who.has_role(*NETWORK_ROLES) and who.network_ids:
        return Scope("network", network_ids=tuple(sorted(who.network_ids)))
    raise ApiError(403, "auth.forbidden", reason="aucun périmètre de lecture pour ce jeton")


def narrowed_networks(scope: Scope, requested: list[str] | None) -> list[str] | None:
    """The network filter to store: a network owner's is within its networks (its own by
    default); a member's or the platform's is as given (None: no filter)."""
    if scope.kind != "network":
        return sorted(set(requested)) if requested else None
    if not requested:
        return list(scope.network_ids)
    outside = sorted(set(requested) - set(scope.network_ids))
    if outside:
        raise ApiError(
            403, "auth.forbidden", reason=f"réseaux hors de votre périmètre : {', '.join(outside)}"
        )
    return sorted(set(requested))


def manages(who: Principal, owner: Scope) -> bool:
    """May `who` see and change a subscription (and its deliveries) owned at `owner`?"""
    if who.has_role("platform_admin"):
        return True
    if owner.kind == "member":
        return who.member_id == owner.member_id and who.has_role(*MEMBER_MANAGERS)
    if owner.kind == "network":
        return (
            who.member_id is None
            and who.has_role(*NETWORK_ROLES)
            and set(owner.network_ids) <= set(who.network_ids)
        )
    return False


@dataclass(frozen=True)
class ReferralFacts:
    """Who a referral is between and which network it belongs to (None: not known here)."""

    sender_member_id: str
    receiver_member_id: str
    network_id: str | None


def may_receive(owner: Scope, network_filter: list[str] | None, facts: ReferralFacts) -> bool:
    """Never wider than the owner may read (a member: the referrals it sent or received; a
    network owner: its networks'), then the subscription's own network filter."""
    if owner.kind == "member":
        if owner.member_id not in (facts.sender_member_id, facts.receiver_member_id):
            return False
    elif owner.kind == "network":
        if facts.network_id is None or facts.network_id not in owner.network_ids:
            return False
    if network_filter is not None:
        return facts.network_id is not None and facts.network_id in network_filter
    return True


# --- URL safety (SSRF) ----------------------------------------------------------------------
class UrlRefused(Exception):
    """A webhook URL that must not be called: `code` is an i18n key, `params` its values."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code, self.params = code, params

    def api_error(self) -> ApiError:
        return ApiError(422, self.code, **self.params)


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
ADDRESS_KINDS = {
    "metadata": ("service de métadonnées", "metadata service"),
    "loopback": ("boucle locale", "loopback"),
    "link_local": ("lien local", "link-local"),
    "private": ("réseau privé", "private network"),
    "reserved": ("adresse réservée", "reserved address"),
    "multicast": ("multidiffusion", "multicast"),
    "unspecified": ("adresse non spécifiée", "unspecified address"),
}


def address_kind(address: str) -> str | None:
    """Why an IP address must not be called (a key of ADDRESS_KINDS), None when public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


def refused_address(address: str, *, allow_loopback: bool) -> UrlRefused | None:
    kind = address_kind(address)
    if kind is None or (kind == "loopback" and allow_loopback):
        return None
    return UrlRefused("webhook.url_forbidden", address=address, kind=ADDRESS_KINDS[kind][0])


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    literal_ip: bool


def check_url(url: str, *, allow_loopback: bool) -> Target:
    """Scheme and host; an IP literal is checked here, a name once resolved (the caller)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("webhook.url_scheme", url=url[:200]) from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("webhook.url_scheme", url=url[:200])
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("webhook.url_host", url=url[:200])
    if parts.username or parts.password:
        raise UrlRefused("webhook.url_credentials")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        literal = True
    except ValueError:
        literal = False
    if literal:
        refused = refused_address(host, allow_loopback=allow_loopback)
        if refused is not None:
            raise refused
    elif host.lower() == "localhost" or host.lower().endswith(".localhost"):
        if not allow_loopback:
            raise UrlRefused(
                "webhook.url_forbidden", address=host, kind=ADDRESS_KINDS["loopback"][0]
            )
    default_port = 443 if parts.scheme == "https" else 80
    return Target(host=host, port=port or default_port, literal_ip=literal)


# --- retries --------------------------------------------------------------------------------
def retry_delay(
    attempts_done: int,
    schedule: list[float],
    *,
    jitter: float,
    draw: float,
    retry_after: timedelta | None = None,
) -> timedelta:
    """Delay before the next attempt once `attempts_done` (≥ 1) have failed in this round.

    `schedule[n]` is the wait before attempt n+1 (schedule[0] = 0: the first is immediate;
    past its end the last value repeats). Jitter only lengthens it: × (1 + jitter × draw), draw
    in [0, 1). A `Retry-After` longer than that is honoured.
    """
    base = schedule[min(attempts_done, len(schedule) - 1)] if schedule else 0.0
    delay = timedelta(seconds=base * (1 + jitter * draw))
    if retry_after is not None and retry_after > delay:
        return retry_after
    return delay


MAX_RETRY_AFTER = timedelta(days=1)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After: <seconds>` or `Retry-After: <HTTP date>`; None if absent or unreadable.
    Capped at a day: a receiver cannot park a delivery forever."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        delay = moment - now
    if delay <= timedelta(0):
        return timedelta(0)
    return min(delay, MAX_RETRY_AFTER)


def endpoint_should_be_disabled(
    failing_since: datetime | None, now: datetime, after: timedelta
) -> bool:
    """An endpoint failing without a single success for `after` (5 days) is disabled."""
    return failing_since is not None and now - failing_since >= after


def excerpt(raw: bytes, limit: int = 500) -> str:
    return raw[:limit].decode("utf-8", errors="replace")
