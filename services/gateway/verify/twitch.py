"""Twitch EventSub: what a verified request names (the signature itself is a row in :mod:`.senders`).

``Twitch-Eventsub-Message-Id`` is the delivery id (Twitch resends it unchanged). A
``webhook_callback_verification`` is answered with its challenge (a handshake, never produced).
Notifications are typed by ``Twitch-Eventsub-Subscription-Type`` (``channel.follow`` ->
``com.twitch.channel.follow``); revocations are ``com.twitch.revocation`` with the subscription type
as subject.
https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
"""

from __future__ import annotations

from hookgate.gateway.shaping.handshakes import twitch_callback_verification
from hookgate.gateway.verify.base import Verdict, WebhookRequest, optional_header
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.hmac_scheme import Signed

HEADERS = ("Twitch-Eventsub-Message-Type", "Twitch-Eventsub-Subscription-Type")
"""The headers :func:`describe` reads (the signed ones are the row's scheme)."""


def describe(request: WebhookRequest, signed: Signed) -> Verdict:
    """The verdict for a verified EventSub message: the callback verification, a revocation or a notification."""
    kind = optional_header(request.headers, "Twitch-Eventsub-Message-Type")
    sub_type = optional_header(request.headers, "Twitch-Eventsub-Subscription-Type")
    handshake = twitch_callback_verification(kind, request.json_object())
    if handshake is not None:
        return Verdict(ok=True, event_type="com.twitch.webhook_callback_verification", handshake=handshake)
    if kind == "revocation":
        return Verdict(ok=True, delivery_id=signed.delivery_id, event_type="com.twitch.revocation", subject=sub_type)
    return Verdict(ok=True, delivery_id=signed.delivery_id, event_type=ce_type("twitch", sub_type))
