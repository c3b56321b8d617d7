"""Replies to the endpoint-validation handshakes some senders make before they deliver events.

Each builder is pure: given the already-verified payload it returns the :class:`HandshakeReply`
the sender expects, or ``None`` when the request is not that handshake. Verifiers call them and put
the reply in ``Verdict.handshake``; the gateway answers with it and produces nothing to Kafka.
:func:`websub_challenge` is the exception: WebSub verification is an unsigned ``GET``, so the gateway
calls it directly for triggers that enable it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from hookgate.gateway.verify.base import HandshakeReply, WebhookRequest

__all__ = [
    "HandshakeReply",
    "discord_ping",
    "json_reply",
    "slack_url_verification",
    "text_reply",
    "twitch_callback_verification",
    "websub_challenge",
    "zoom_url_validation",
]

MAX_CHALLENGE_CHARS = 1024
"""Longer challenges are refused rather than echoed: no sender sends one near this size."""


def text_reply(text: str, status: int = 200) -> HandshakeReply:
    return HandshakeReply(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")


def json_reply(value: Any, status: int = 200) -> HandshakeReply:
    return HandshakeReply(status=status, body=orjson.dumps(value), content_type="application/json")


def _challenge(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_CHALLENGE_CHARS:
        return value
    return None


def slack_url_verification(payload: dict[str, Any] | None) -> HandshakeReply | None:
    """Slack Events API ``{"type": "url_verification", "challenge": ...}``: echo the challenge.

    https://api.slack.com/events/url_verification (plain text is one of the accepted reply forms).
    """
    if payload is None or payload.get("type") != "url_verification":
        return None
    challenge = _challenge(payload.get("challenge"))
    return text_reply(challenge) if challenge is not None else None


def zoom_url_validation(payload: dict[str, Any] | None, secret: bytes) -> HandshakeReply | None:
    """Zoom ``endpoint.url_validation``: ``{"plainToken", "encryptedToken": hex HMAC-SHA256(secret, plainToken)}``.

    ``secret`` is the app's secret token that verified the request.
    """
    if payload is None or payload.get("event") != "endpoint.url_validation":
        return None
    inner = payload.get("payload")
    plain = _challenge(inner.get("plainToken") if isinstance(inner, dict) else None)
    if plain is None:
        return None
    encrypted = hmac.new(secret, plain.encode(), hashlib.sha256).hexdigest()
    return json_reply({"plainToken": plain, "encryptedToken": encrypted})


def twitch_callback_verification(message_type: str | None, payload: dict[str, Any] | None) -> HandshakeReply | None:
    """Twitch EventSub ``webhook_callback_verification``: the ``challenge`` as ``text/plain`` with 200."""
    if message_type != "webhook_callback_verification" or payload is None:
        return None
    challenge = _challenge(payload.get("challenge"))
    return text_reply(challenge) if challenge is not None else None


def discord_ping(payload: dict[str, Any] | None, endpoint: str = "interactions") -> HandshakeReply | None:
    """Discord PING.

    Interactions endpoint: ``{"type": 1}`` is answered ``{"type": 1}`` (PONG). Webhook events
    endpoint: ``{"type": 0}`` is answered ``204`` with an empty body.
    """
    if payload is None:
        return None
    kind = payload.get("type")
    if endpoint == "interactions" and kind == 1 and not isinstance(kind, bool):
        return json_reply({"type": 1})
    if endpoint == "events" and kind == 0 and not isinstance(kind, bool):
        return HandshakeReply(status=204, body=b"", content_type="text/plain")
    return None


def websub_challenge(request: WebhookRequest, verify_token: str | None) -> HandshakeReply | None:
    """WebSub (PubSubHubbub) intent verification: ``GET ?hub.mode=subscribe&hub.challenge=...``.

    Returns the challenge as ``text/plain`` when the request is a ``subscribe`` or ``unsubscribe``
    verification and, if ``verify_token`` is configured, ``hub.verify_token`` equals it (compared
    in constant time). ``None`` means it is not a verification the gateway agrees to: answer 404,
    as the WebSub spec asks of a subscriber that does not want the subscription.
    """
    if request.method != "GET":
        return None
    q = request.query
    if len(q.getall("hub.mode", [])) != 1 or q["hub.mode"] not in ("subscribe", "unsubscribe"):
        return None
    challenges = q.getall("hub.challenge", [])
    challenge = _challenge(challenges[0]) if len(challenges) == 1 else None
    if challenge is None:
        return None
    if verify_token is not None:
        tokens = q.getall("hub.verify_token", [])
        if len(tokens) != 1 or not hmac.compare_digest(tokens[0].encode(), verify_token.encode()):
            return None
    return text_reply(challenge)
