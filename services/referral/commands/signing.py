"""The signature scheme of member commands on `referral.commands` (pure: no I/O).

A member's own tool (its CRM, say) acts on a referral by producing a CloudEvent on
`referral.commands` instead of calling the HTTP API. No bearer token travels in the record:
the command is signed with an Ed25519 key whose public half the member registered in the
directory (`POST /v1/command-keys?member_id=...`), so it stays verifiable in the log for as
long as the log keeps it, and nothing in it can be replayed to act elsewhere.

What is signed
    The *signing input* is the CloudEvents `type` of the record, one line feed, then the
    canonical JSON of the record's data (the JSON object in the Kafka value) without its
    `signature` member::

        signing_input = ce_type UTF-8 bytes + b"\\n" + canonical_json(data minus "signature")

    Canonical JSON: object keys sorted, no whitespace at all (`,` and `:` separators), strings
    as UTF-8 without `\\uXXXX` escapes beyond what JSON requires (`"`, `\\` and control
    characters), integers as integers, no floats. For the values commands carry (ASCII keys,
    strings, integers, booleans, null) this is exactly RFC 8785 (JCS), so any JCS library
    gives the same bytes. Every member present in the data is signed, optional ones sent as
    `null` included; the verifier canonicalises the data *as received*, so what you sign is
    what you send.

    The `type` is part of the input so that a signature over an `accept` cannot be moved onto
    a `decline` with the same data.

The signature
    `signature` = base64url (RFC 4648 §5, without `=` padding) of the 64-byte Ed25519
    signature of the signing input. Public keys are registered and kept as the 32 raw bytes,
    base64url without padding (the directory also accepts a PEM `PUBLIC KEY`).

What the referral service checks (services.referral.commands.handler)
    * `ce_id` equals `data.command_id` (so the record's id is covered by the signature);
    * a command id it already processed is acknowledged and ignored, without checking
      anything again: a replay of the log, or a second send, acts once;
    * the signature verifies against one of the member's registered, non-revoked keys;
    * `issued_at` (RFC 3339 with an offset) is within the freshness window (±15 minutes by
      default, `REFERRAL_COMMAND_FRESHNESS_MINUTES`) of the service clock at first receipt;
    * then the command runs through the same use case as HTTP, as `member:<member_id>`.
    A record failing one of the first checks goes to `referral.commands.dlq` and changes
    nothing; a refusal of the use case (a transition that is not allowed, a party that may
    not act, an unknown code) gives a `command_rejected` event on `referral.events`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FIELD = "signature"
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
SIGNATURE_BYTES = 64


class SignatureError(ValueError):
    """A signature that cannot be verified; the message says why (for the dead letter)."""


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a command's data: every member but `signature`, sorted, compact."""
    body = {key: value for key, value in data.items() if key != SIGNATURE_FIELD}
    try:
        text = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"data has no canonical JSON form: {exc}") from exc


def signing_input(ce_type: str, data: Mapping[str, Any]) -> bytes:
    """What the Ed25519 signature covers: the CloudEvents type, a line feed, the canonical data."""
    if not ce_type or "\n" in ce_type:
        raise SignatureError("the CloudEvents type must be one non-empty line")
    return ce_type.encode("utf-8") + b"\n" + canonical_json(data)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; anything else is a ValueError."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("only A-Z, a-z, 0-9, '-' and '_' are allowed")
    stripped = text.rstrip("=")
    try:
        return base64.b64decode(
            stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from exc


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The form a command key is registered and kept in: raw 32 bytes, base64url, no padding."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64url(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def sign(private_key: Ed25519PrivateKey, ce_type: str, data: Mapping[str, Any]) -> str:
    """The `signature` value for `data` (its own `signature` member, if any, is left out)."""
    return b64url(private_key.sign(signing_input(ce_type, data)))


def verify(
    public_keys: Mapping[str, str], ce_type: str, data: Mapping[str, Any], signature: str
) -> str:
    """Return the id of the key (of `public_keys`: id -> base64url raw key) that verifies
    `signature` over `data`; raise SignatureError saying why none does."""
    if not public_keys:
        raise SignatureError("the member has no registered, non-revoked command key")
    try:
        raw_signature = unb64url(signature)
    except ValueError as exc:
        raise SignatureError(f"signature is not base64url: {exc}") from exc
    if len(raw_signature) != SIGNATURE_BYTES:
        raise SignatureError(
            f"signature is {len(raw_signature)} bytes, an Ed25519 signature is {SIGNATURE_BYTES}"
        )
    message = signing_input(ce_type, data)
    for key_id, text in sorted(public_keys.items()):
        try:
            public = Ed25519PublicKey.from_public_bytes(unb64url(text))
        except ValueError:
            continue  # a key the directory accepted is well-formed; skip a damaged copy
        try:
            public.verify(raw_signature, message)
        except InvalidSignature:
            continue
        return key_id
    raise SignatureError(
        f"signature does not verify against the member's {len(public_keys)} active key(s)"
    )


def parse_issued_at(text: str) -> datetime:
    """An RFC 3339 time with an offset (`Z` or `+01:00`), as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"issued_at is not an RFC 3339 time: {text!r}") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"issued_at has no UTC offset: {text!r}")
    return moment.astimezone(UTC)


def format_issued_at(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the millisecond: the form `issued_at` is written in."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
