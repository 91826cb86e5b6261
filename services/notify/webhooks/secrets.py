"""Subscription secrets: `whsec_` form, generated here, sealed at rest with AES-256-GCM.

The signing secret must be read back to sign, so it cannot be hashed: it is sealed with the
key from `NOTIFY_WEBHOOK_SECRETS_KEY` (a development key otherwise), bound to its subscription
id (a sealed secret copied onto another row does not open).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
DEVELOPMENT_KEY = base64.urlsafe_b64encode(b"relais-dev-only-webhook-secrets!").decode()


class SecretError(ValueError):
    """A secret that is not `whsec_` + base64 of 24 to 64 bytes."""


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_key(text: str) -> bytes:
    try:
        key = _unb64(text.strip())
    except (binascii.Error, ValueError) as exc:
        raise ValueError("NOTIFY_WEBHOOK_SECRETS_KEY must be base64url") from exc
    if len(key) != 32:
        raise ValueError("NOTIFY_WEBHOOK_SECRETS_KEY must be 32 random bytes, base64url-encoded")
    return key


def generate_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(os.urandom(32)).decode()


def check_secret(secret: str) -> str:
    if not secret.startswith(PREFIX):
        raise SecretError(secret[:6])
    try:
        raw = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("base64") from exc
    if not 24 <= len(raw) <= 64:
        raise SecretError("length")
    return secret


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, subscription_id: str, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), f"webhook:{subscription_id}".encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, subscription_id: str, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed)
        try:
            plain = self._aead.decrypt(raw[:12], raw[12:], f"webhook:{subscription_id}".encode())
        except InvalidTag as exc:
            raise SecretError("sealed with another key or for another subscription") from exc
        return plain.decode()
