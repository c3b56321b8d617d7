"""Twitch EventSub: ``Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256 of id + timestamp + raw body>``.

``Twitch-Eventsub-Message-Id`` is the delivery id (Twitch resends it unchanged) and
``Twitch-Eventsub-Message-Timestamp`` (RFC 3339) must be within ``tolerance_seconds`` (default
600, as Twitch advises). A ``webhook_callback_verification`` is answered with its challenge (a
handshake, never produced). Notifications are typed by ``Twitch-Eventsub-Subscription-Type``
(``channel.follow`` -> ``com.twitch.channel.follow``); revocations are ``com.twitch.revocation``
with the subscription type as subject.
https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.shaping.handshakes import twitch_callback_verification
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
    reject,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import json_object
from hookgate.gateway.verify.replay import check_window, parse_rfc3339


class TwitchConfig(PresetConfig):
    type: Literal["twitch"]
    secrets: list[Secret] = Field(min_length=1)
    tolerance_seconds: int = Field(default=600, gt=0)

    def build(self) -> Verifier:
        return TwitchVerifier(self)


class TwitchVerifier(CheckedVerifier):
    def __init__(self, config: TwitchConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = header_once(h, "Twitch-Eventsub-Message-Signature")
        msg_id = header_once(h, "Twitch-Eventsub-Message-Id", "missing_id", "duplicate_id_header")
        ts = header_once(h, "Twitch-Eventsub-Message-Timestamp", "missing_timestamp", "duplicate_timestamp_header")
        timestamp = parse_rfc3339(ts)
        if not sig.startswith("sha256="):
            reject("malformed_signature")
        message = msg_id.encode() + ts.encode() + request.body
        require_match([decode_hex(sig[len("sha256=") :])], hmac_digests(self._secrets, message))
        check_window(timestamp, request.now, self._tolerance)
        kind = optional_header(h, "Twitch-Eventsub-Message-Type")
        sub_type = optional_header(h, "Twitch-Eventsub-Subscription-Type")
        handshake = twitch_callback_verification(kind, json_object(request.body))
        if handshake is not None:
            return Verdict(ok=True, event_type="com.twitch.webhook_callback_verification", handshake=handshake)
        if kind == "revocation":
            return Verdict(ok=True, delivery_id=msg_id, event_type="com.twitch.revocation", subject=sub_type)
        return Verdict(ok=True, delivery_id=msg_id, event_type=ce_type("twitch", sub_type))
