"""AES-GCM sealing of the secrets a trigger record carries, under one of several key ids.

A sealed value names its key id, so the active key can change while older records stay readable for as
long as their key is still listed. The associated data binds a sealed value to its trigger id: a
ciphertext copied into another trigger's record does not open.

``cryptography`` is imported the first time a value is sealed or opened, not with this module: a gateway
whose trigger topic holds no sealed secret never loads it (its native library costs several MiB of RSS).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hookgate.gateway.catalog.settings import EncryptionSettings, decode_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
AES_KEY_BYTES = (16, 24, 32)


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
        for key in keys.values():
            # The check AESGCM(key) makes, done here so a bad key still fails at start-up, not on first use.
            if len(key) not in AES_KEY_BYTES:
                raise ValueError("AESGCM key must be 128, 192, or 256 bits.")
        self._raw = dict(keys)
        self._aeads: dict[str, AESGCM] = {}
        self.active = active

    @classmethod
    def from_settings(cls, settings: EncryptionSettings) -> KeyRing:
        keys = {kid: decode_key(s.get_secret_value()) for kid, s in settings.keys.items()}
        return cls(keys, settings.active)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._raw)

    def _aead(self, key_id: str) -> AESGCM | None:
        aead = self._aeads.get(key_id)
        if aead is None and key_id in self._raw:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            aead = self._aeads[key_id] = AESGCM(self._raw[key_id])
        return aead

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        """``plaintext`` sealed with the active key, bound to ``context`` (the trigger id)."""
        if self.active is None:
            raise SealError("no encryption key configured (gateway.catalog.encryption.keys)")
        aead = self._aead(self.active)
        if aead is None:
            raise KeyError(self.active)  # as before: an active id without a key is a bug of the caller
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(self.active, nonce, aead.encrypt(nonce, plaintext, context.encode()))

    def open(self, sealed: Sealed, context: str) -> bytes:
        aead = self._aead(sealed.key_id)
        if aead is None:
            raise SealError(f"key id {sealed.key_id!r} is not listed in gateway.catalog.encryption.keys")
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(sealed.nonce, sealed.data, context.encode())
        except InvalidTag:
            raise SealError(f"secrets do not open with key {sealed.key_id!r} (wrong key or damaged record)") from None
