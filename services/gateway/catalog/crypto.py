"""AES-GCM sealing of the secrets a trigger record carries, under one of several key ids.

A sealed value names its key id, so the active key can change while older records stay readable for as
long as their key is still listed. The associated data binds a sealed value to its trigger id: a
ciphertext copied into another trigger's record does not open.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hookgate.gateway.catalog.settings import EncryptionSettings, decode_key

NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value cannot be opened (unknown key id, wrong key, damaged data) or sealed (no key)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """Ciphertext and the nonce it was sealed with, under ``key_id``."""

    key_id: str
    nonce: bytes
    data: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "key": self.key_id,
            "nonce": base64.b64encode(self.nonce).decode(),
            "data": base64.b64encode(self.data).decode(),
        }

    @classmethod
    def from_json(cls, value: object) -> Sealed:
        if not isinstance(value, Mapping):
            raise SealError("sealed secrets: expected a mapping")
        try:
            return cls(str(value["key"]), base64.b64decode(value["nonce"]), base64.b64decode(value["data"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SealError(f"sealed secrets: {type(exc).__name__}") from None


class KeyRing:
    """The configured keys; seals with the active one, opens with whichever a value names."""

    def __init__(self, keys: Mapping[str, bytes], active: str | None) -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @classmethod
    def from_settings(cls, settings: EncryptionSettings) -> KeyRing:
        keys = {kid: decode_key(s.get_secret_value()) for kid, s in settings.keys.items()}
        return cls(keys, settings.active)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        """``plaintext`` sealed with the active key, bound to ``context`` (the trigger id)."""
        if self.active is None:
            raise SealError("no encryption key configured (gateway.catalog.encryption.keys)")
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(self.active, nonce, self._keys[self.active].encrypt(nonce, plaintext, context.encode()))

    def open(self, sealed: Sealed, context: str) -> bytes:
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise SealError(f"key id {sealed.key_id!r} is not listed in gateway.catalog.encryption.keys")
        try:
            return aead.decrypt(sealed.nonce, sealed.data, context.encode())
        except InvalidTag:
            raise SealError(f"secrets do not open with key {sealed.key_id!r} (wrong key or damaged record)") from None
