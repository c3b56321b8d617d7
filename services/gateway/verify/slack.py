"""Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{ts}:{raw body}">``.

``X-Slack-Request-Timestamp`` must be within ``tolerance_seconds`` (default 300, as Slack
advises). A signed Events API ``url_verification`` is answered with its challenge (a handshake,
never produced). Events API deliveries carry ``event_id`` (the delivery id) and are typed by the
inner event (``com.slack.app_mention``); other JSON or ``payload=`` form bodies by their ``type``
(``com.slack.block_actions``), slash commands as ``com.slack.slash_command``.
https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.shaping.handshakes import slack_url_verification
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


class SlackConfig(PresetConfig):
    type: Literal["slack"]
    secrets: list[Secret] = Field(min_length=1)  # signing secrets
    tolerance_seconds: int = Field(default=300, gt=0)

    def build(self) -> Verifier:
        return SlackVerifier(self)


class SlackVerifier(CheckedVerifier):
    def __init__(self, config: SlackConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        check_v0(request, "X-Slack-Signature", "X-Slack-Request-Timestamp", self._secrets, self._tolerance)
        payload = json_object(request.body)
        if payload is not None:
            handshake = slack_url_verification(payload)
            if handshake is not None:
                return Verdict(ok=True, event_type="com.slack.url_verification", handshake=handshake)
            return _json_verdict(payload)
        return _form_verdict(request.body)


def _json_verdict(payload: dict[str, Any]) -> Verdict:
    kind = field(payload, "type")
    if kind == "event_callback":
        return Verdict(
            ok=True,
            delivery_id=field(payload, "event_id"),
            event_type=ce_type("slack", field(payload, "event", "type")),
            subject=field(payload, "team_id"),
        )
    return Verdict(ok=True, event_type=ce_type("slack", kind))


def _form_verdict(body: bytes) -> Verdict:
    try:
        form = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return Verdict(ok=True)
    if "payload" in form:
        inner = json_object(form["payload"][0].encode())
        return Verdict(ok=True, event_type=ce_type("slack", field(inner, "type")))
    if "command" in form:
        return Verdict(ok=True, event_type="com.slack.slash_command", subject=form["command"][0] or None)
    return Verdict(ok=True)
