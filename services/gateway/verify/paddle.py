"""Paddle Billing: ``Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]``.

``h1`` is the hex HMAC-SHA256 of ``{ts}:{raw body}`` under the notification destination's secret
key (several ``h1`` while a secret is rotated). Paddle recommends a 5 second tolerance, the
default here. The delivery id is the body's ``event_id``, the type its ``event_type``
(``transaction.completed`` -> ``com.paddle.transaction.completed``) and the subject ``data.id``.
https://developer.paddle.com/webhooks/signature-verification
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
    header_once,
    hex_signatures,
    hmac_digests,
    only_value,
    parse_pairs,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object
from hookgate.gateway.verify.replay import check_window, parse_unix


class PaddleConfig(PresetConfig):
    type: Literal["paddle"]
    secrets: list[Secret] = Field(min_length=1)
    tolerance_seconds: int = Field(default=5, gt=0)

    def build(self) -> Verifier:
        return PaddleVerifier(self)


class PaddleVerifier(CheckedVerifier):
    def __init__(self, config: PaddleConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        pairs = parse_pairs(header_once(request.headers, "Paddle-Signature"), ";")
        ts = only_value(pairs, "ts", "missing_timestamp")
        timestamp = parse_unix(ts)
        given = hex_signatures([v for k, v in pairs if k == "h1"])
        require_match(given, hmac_digests(self._secrets, ts.encode() + b":" + request.body))
        check_window(timestamp, request.now, self._tolerance)
        event = json_object(request.body)
        return Verdict(
            ok=True,
            delivery_id=field(event, "event_id"),
            event_type=ce_type("paddle", field(event, "event_type")),
            subject=field(event, "data", "id"),
        )
