"""PagerDuty webhooks v3: ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]``.

Each ``v1`` is the hex HMAC-SHA256 of the raw body under a subscription's secret (several during a
rotation). The delivery id is ``event.id``, the type ``event.event_type`` (``incident.triggered``
-> ``com.pagerduty.incident.triggered``) and the subject ``event.data.id``.
https://developer.pagerduty.com/docs/webhooks/webhook-signatures/
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
    parse_pairs,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object


class PagerDutyConfig(PresetConfig):
    type: Literal["pagerduty"]
    secrets: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return PagerDutyVerifier(self)


class PagerDutyVerifier(CheckedVerifier):
    def __init__(self, config: PagerDutyConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)

    def check(self, request: WebhookRequest) -> Verdict:
        pairs = parse_pairs(header_once(request.headers, "X-PagerDuty-Signature"))
        given = hex_signatures([v for k, v in pairs if k == "v1"])
        require_match(given, hmac_digests(self._secrets, request.body))
        event = json_object(request.body)
        return Verdict(
            ok=True,
            delivery_id=field(event, "event", "id"),
            event_type=ce_type("pagerduty", field(event, "event", "event_type")),
            subject=field(event, "event", "data", "id"),
        )
