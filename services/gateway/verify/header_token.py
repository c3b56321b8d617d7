"""Static header token: a named header equals one of ``tokens`` (constant-time).

For senders that can add a fixed header (``X-Webhook-Token: ...``) but cannot sign.
"""

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


class HeaderTokenConfig(PresetConfig):
    type: Literal["header_token"]
    header: str = Field(min_length=1)
    tokens: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return HeaderTokenVerifier(self)


class HeaderTokenVerifier(CheckedVerifier):
    def __init__(self, config: HeaderTokenConfig) -> None:
        self._header = config.header
        self._tokens = secrets_bytes(config.tokens)

    def check(self, request: WebhookRequest) -> Verdict:
        token = header_once(request.headers, self._header, "missing_token", "duplicate_token")
        if not any_matches(token.strip().encode(), self._tokens):
            reject("bad_token")
        return Verdict(ok=True)
