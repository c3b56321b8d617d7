"""Linear: ``Linear-Signature: <hex HMAC-SHA256 of the raw body>``.

The signed body carries ``webhookTimestamp`` (unix milliseconds), which must be within
``tolerance_seconds`` (default 60, as Linear advises). The delivery id is ``Linear-Delivery``, the
type the body's ``type`` and ``action`` (``Issue``/``create`` -> ``com.linear.issue.create``) and
the subject ``data.id``.
https://linear.app/developers/webhooks#securing-webhooks
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
    decode_hex,
    header_once,
    hmac_digests,
    optional_header,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object
from hookgate.gateway.verify.replay import check_window, parse_unix


class LinearConfig(PresetConfig):
    type: Literal["linear"]
    secrets: list[Secret] = Field(min_length=1)
    tolerance_seconds: int = Field(default=60, gt=0)

    def build(self) -> Verifier:
        return LinearVerifier(self)


class LinearVerifier(CheckedVerifier):
    def __init__(self, config: LinearConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = decode_hex(header_once(h, "Linear-Signature"))
        require_match([sig], hmac_digests(self._secrets, request.body))
        payload = json_object(request.body)
        check_window(parse_unix(field(payload, "webhookTimestamp"), milliseconds=True), request.now, self._tolerance)
        return Verdict(
            ok=True,
            delivery_id=optional_header(h, "Linear-Delivery"),
            event_type=ce_type("linear", field(payload, "type"), field(payload, "action")),
            subject=field(payload, "data", "id"),
        )
