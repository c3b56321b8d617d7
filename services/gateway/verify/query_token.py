"""Query-string token: ``?<param>=<token>`` equals one of ``tokens`` (constant-time).

For senders that can only be given a URL. The token then travels in the URL, which proxies and
senders may log: prefer a header token or a signature when the sender allows it.
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
    reject,
    secrets_bytes,
)


class QueryTokenConfig(PresetConfig):
    type: Literal["query_token"]
    param: str = Field(default="token", min_length=1)
    tokens: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return QueryTokenVerifier(self)


class QueryTokenVerifier(CheckedVerifier):
    def __init__(self, config: QueryTokenConfig) -> None:
        self._param = config.param
        self._tokens = secrets_bytes(config.tokens)

    def check(self, request: WebhookRequest) -> Verdict:
        values = request.query.getall(self._param, [])
        if not values:
            reject("missing_token")
        if len(values) > 1:
            reject("duplicate_token")
        if not any_matches(values[0].encode(), self._tokens):
            reject("bad_token")
        return Verdict(ok=True)
