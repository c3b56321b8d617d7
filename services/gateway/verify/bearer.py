"""Bearer token: ``Authorization: Bearer <token>`` equals one of ``tokens`` (constant-time)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    any_matches,
    header_once,
    reject,
    secrets_bytes,
)


class BearerConfig(PresetConfig):
    type: Literal["bearer"]
    tokens: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return BearerVerifier(self)


class BearerVerifier(CheckedVerifier):
    def __init__(self, config: BearerConfig) -> None:
        self._tokens = secrets_bytes(config.tokens)

    def check(self, request: WebhookRequest) -> Verdict:
        value = header_once(request.headers, "Authorization", "missing_token", "duplicate_token")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            reject("malformed_token")
        if not any_matches(token.strip().encode(), self._tokens):
            reject("bad_token")
        return Verdict(ok=True)
