"""HTTP Basic auth: ``Authorization: Basic base64(username:password)`` matches one configured pair.

Several pairs may be active (rotation, or one per sender); each comparison is constant-time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret, StrictModel
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    any_matches,
    decode_b64,
    header_once,
    reject,
)


class BasicCredential(StrictModel):
    username: str = Field(min_length=1)
    password: Secret


class BasicConfig(PresetConfig):
    type: Literal["basic"]
    credentials: list[BasicCredential] = Field(min_length=1)

    def build(self) -> Verifier:
        return BasicVerifier(self)


class BasicVerifier(CheckedVerifier):
    def __init__(self, config: BasicConfig) -> None:
        self._pairs = [f"{c.username}:{c.password.get_secret_value()}".encode() for c in config.credentials]

    def check(self, request: WebhookRequest) -> Verdict:
        value = header_once(request.headers, "Authorization", "missing_token", "duplicate_token")
        scheme, _, encoded = value.strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            reject("malformed_token")
        pair = decode_b64(encoded, "malformed_token")
        if b":" not in pair:
            reject("malformed_token")
        if not any_matches(pair, self._pairs):
            reject("bad_token")
        return Verdict(ok=True)
