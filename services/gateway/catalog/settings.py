"""``gateway.catalog``: following the trigger topic, and the keys that encrypt the secrets stored in it."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Self

from pydantic import Field, model_validator

from hookgate.core.config import Secret, StrictModel, secret_format

KEY_BYTES = 32
"""AES-256: every encryption key is 32 random bytes, written base64 (``openssl rand -base64 32``)."""


def decode_key(text: str) -> bytes:
    """The 32 key bytes of a base64 text (standard or URL-safe alphabet); ``ValueError`` otherwise."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("expected base64 of 32 random bytes (openssl rand -base64 32)") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"expected base64 of {KEY_BYTES} random bytes, got {len(raw)} bytes")
    return raw


EncryptionKey = Annotated[Secret, secret_format(decode_key)]
"""An AES-256 key: base64 of 32 bytes, literal, ``${ENV}`` or ``file:/path``."""


class EncryptionSettings(StrictModel):
    """The keys that encrypt trigger secrets in the topic; each record names the key id it was sealed with."""

    keys: dict[str, EncryptionKey] = Field(
        default_factory=dict,
        description="Key id -> base64 AES-256 key (${ENV} or file:); keep old ids listed while records use them",
    )
    active_key: str | None = Field(default=None, description="The key id new and rewritten records are sealed with")

    @model_validator(mode="after")
    def _active_listed(self) -> Self:
        if self.active_key is None and self.keys:
            if len(self.keys) == 1:
                return self
            raise ValueError("active_key: required when more than one key is listed")
        if self.active_key is not None and self.active_key not in self.keys:
            raise ValueError(f"active_key: {self.active_key!r} is not one of keys")
        return self

    @property
    def active(self) -> str | None:
        """The id new records are sealed with (the only key, when just one is listed and none is named)."""
        if self.active_key is not None:
            return self.active_key
        return next(iter(self.keys), None)


class CatalogSettings(StrictModel):
    """Runtime triggers: the compacted ``{prefix}._triggers`` topic every replica follows."""

    enabled: bool = Field(
        default=True, description="Follow the trigger topic (runtime triggers); false = YAML triggers only"
    )
    partitions: int = Field(default=1, ge=1, le=100, description="Partitions of the trigger topic when created")
    poll_interval_ms: int = Field(
        default=100, ge=10, le=5000, description="How long one poll of the trigger topic waits for new records"
    )
    write_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="A catalog write fails (503) unless stored and applied by then"
    )
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
