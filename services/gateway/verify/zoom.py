"""Zoom: what a verified request names (the ``v0`` signature itself is a row in :mod:`.senders`).

A signed ``endpoint.url_validation`` is answered ``{"plainToken", "encryptedToken"}`` with the secret
token that verified it (a handshake, never produced). Other events are typed by ``event``
(``meeting.started`` -> ``com.zoom.meeting.started``); Zoom sends no delivery id.
https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
"""

from __future__ import annotations

from hookgate.gateway.shaping.handshakes import zoom_url_validation
from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.hmac_scheme import Signed
from hookgate.gateway.verify.payload import field


def describe(request: WebhookRequest, signed: Signed) -> Verdict:
    """The verdict for a verified Zoom request; the URL validation is answered with the secret that signed it."""
    payload = request.json_object()
    handshake = zoom_url_validation(payload, signed.secret)
    return Verdict(ok=True, event_type=ce_type("zoom", field(payload, "event")), handshake=handshake)
