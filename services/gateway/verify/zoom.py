"""Zoom: ``x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{ts}:{raw body}">`` keyed by the app's secret token.

``x-zm-request-timestamp`` must be within ``tolerance_seconds`` (default 300). A signed
``endpoint.url_validation`` is answered ``{"plainToken", "encryptedToken"}`` with the secret token
that verified it (a handshake, never produced). Other events are typed by ``event``
(``meeting.started`` -> ``com.zoom.meeting.started``); Zoom sends no delivery id.
https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.shaping.handshakes import zoom_url_validation
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object
from hookgate.gateway.verify.v0 import check_v0


class ZoomConfig(PresetConfig):
    type: Literal["zoom"]
    secrets: list[Secret] = Field(min_length=1)  # the app's secret tokens
    tolerance_seconds: int = Field(default=300, gt=0)

    def build(self) -> Verifier:
        return ZoomVerifier(self)


class ZoomVerifier(CheckedVerifier):
    def __init__(self, config: ZoomConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        index = check_v0(request, "x-zm-signature", "x-zm-request-timestamp", self._secrets, self._tolerance)
        payload = json_object(request.body)
        handshake = zoom_url_validation(payload, self._secrets[index])
        return Verdict(ok=True, event_type=ce_type("zoom", field(payload, "event")), handshake=handshake)
