"""Personal data at rest: one AES-256-GCM key per project, sealed by the master key.

Destroying a project's key (crypto-shredding) makes every sealed value of that project
unreadable, wherever a copy of the ciphertext went. Pure functions; the key rows live in
the database like any other row.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEVELOPMENT_MASTER_KEY = base64.urlsafe_b64encode(b"relais-development-only-master!!").decode()


class ShreddedError(Exception):
    """The project's key was destroyed: its personal data is gone."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_master_key(text: str) -> bytes:
    key = _unb64(text.strip())
    if len(key) != 32:
        raise ValueError("the master key must be 32 random bytes, base64url-encoded")
    return key


def _encrypt(key: bytes, plaintext: bytes, aad: str) -> str:
    nonce = os.urandom(12)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode()))


def _decrypt(key: bytes, sealed: str, aad: str) -> bytes:
    raw = _unb64(sealed)
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode())


class Vault:
    """Seals project keys with the master key, and project data with the project key."""

    def __init__(self, master_key: bytes) -> None:
        self._master = master_key

    def new_project_key(self, project_id: str) -> tuple[str, bytes]:
        """(sealed key to store, clear key to use now)."""
        key = AESGCM.generate_key(bit_length=256)
        return _encrypt(self._master, key, f"project-key:{project_id}"), key

    def project_key(self, project_id: str, sealed_key: str | None) -> bytes:
        if sealed_key is None:
            raise ShreddedError(project_id)
        return _decrypt(self._master, sealed_key, f"project-key:{project_id}")

    @staticmethod
    def seal(key: bytes, project_id: str, value: dict[str, Any]) -> str:
        return _encrypt(
            key, json.dumps(value, ensure_ascii=False).encode(), f"project:{project_id}"
        )

    @staticmethod
    def open(key: bytes, project_id: str, sealed: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(_decrypt(key, sealed, f"project:{project_id}"))
        except InvalidTag as exc:  # pragma: no cover - corruption, not a business case
            raise ShreddedError(project_id) from exc
        return data
