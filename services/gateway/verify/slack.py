"""Slack: what a verified request names (the ``v0`` signature itself is a row in :mod:`.senders`).

A signed Events API ``url_verification`` is answered with its challenge (a handshake, never
produced). Events API deliveries carry ``event_id`` (the delivery id) and are typed by the inner
event (``com.slack.app_mention``); other JSON or ``payload=`` form bodies by their ``type``
(``com.slack.block_actions``), slash commands as ``com.slack.slash_command``.
https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

from typing import Any

from hookgate.gateway.shaping.bodies import SLACK_PAYLOAD_FIELD, BodyKind
from hookgate.gateway.shaping.handshakes import slack_url_verification
from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.hmac_scheme import Signed
from hookgate.gateway.verify.payload import field


def describe(request: WebhookRequest, signed: Signed) -> Verdict:
    """The verdict for a verified Slack request: a handshake, an Events API delivery or an interaction."""
    del signed
    payload = request.json_object()
    if payload is not None:
        handshake = slack_url_verification(payload)
        if handshake is not None:
            return Verdict(ok=True, event_type="com.slack.url_verification", handshake=handshake)
        return _json_verdict(payload)
    form = request.body_as(BodyKind.FORM)
    if form is None:
        return Verdict(ok=True)
    if SLACK_PAYLOAD_FIELD in form.form:  # interactivity: the JSON document in the payload field
        return Verdict(ok=True, event_type=ce_type("slack", field(form.json, "type")))
    if "command" in form.form:
        return Verdict(ok=True, event_type="com.slack.slash_command", subject=form.form.get("command") or None)
    return Verdict(ok=True)


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
