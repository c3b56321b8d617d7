"""Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``.

Each ``v1`` is the hex HMAC-SHA256 of ``{t}.{raw body}`` under an endpoint secret (Stripe sends
one per secret while a secret is being rolled); ``v0`` and other schemes are ignored. ``t`` must
be within ``tolerance_seconds`` (default 300, as Stripe's libraries) of the gateway clock. The
delivery id is the event ``id`` from the body (``evt_...``), the type the event ``type``
(``invoice.paid`` -> ``com.stripe.invoice.paid``) and the subject ``data.object.id``.
https://docs.stripe.com/webhooks#verify-manually
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


class StripeConfig(PresetConfig):
    type: Literal["stripe"]
    secrets: list[Secret] = Field(min_length=1)
    tolerance_seconds: int = Field(default=300, gt=0)

    def build(self) -> Verifier:
        return StripeVerifier(self)


class StripeVerifier(CheckedVerifier):
    def __init__(self, config: StripeConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        pairs = parse_pairs(header_once(request.headers, "Stripe-Signature"))
        ts = only_value(pairs, "t", "missing_timestamp")
        timestamp = parse_unix(ts)
        given = hex_signatures([v for k, v in pairs if k == "v1"])
        require_match(given, hmac_digests(self._secrets, ts.encode() + b"." + request.body))
        check_window(timestamp, request.now, self._tolerance)
        event = json_object(request.body)
        return Verdict(
            ok=True,
            delivery_id=field(event, "id"),
            event_type=ce_type("stripe", field(event, "type")),
            subject=field(event, "data", "object", "id"),
        )
