"""Square: ``x-square-hmacsha256-signature: <base64 HMAC-SHA256 of notification URL + raw body>``.

The notification URL is the one configured in Square for this subscription (``notification_url``),
exactly as registered, so a proxy rewriting the URL does not matter. The delivery id is the
body's ``event_id``, the type its ``type`` (``payment.created`` -> ``com.square.payment.created``)
and the subject ``data.id``.
https://developer.squareup.com/docs/webhooks/step3validate
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
    decode_b64,
    header_once,
    hmac_digests,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object


class SquareConfig(PresetConfig):
    type: Literal["square"]
    secrets: list[Secret] = Field(min_length=1)  # the subscription's signature keys
    notification_url: str = Field(min_length=1)

    def build(self) -> Verifier:
        return SquareVerifier(self)


class SquareVerifier(CheckedVerifier):
    def __init__(self, config: SquareConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._url = config.notification_url.encode()

    def check(self, request: WebhookRequest) -> Verdict:
        sig = decode_b64(header_once(request.headers, "x-square-hmacsha256-signature"))
        require_match([sig], hmac_digests(self._secrets, self._url + request.body))
        event = json_object(request.body)
        return Verdict(
            ok=True,
            delivery_id=field(event, "event_id"),
            event_type=ce_type("square", field(event, "type")),
            subject=field(event, "data", "id"),
        )
