"""Handshake replies as pure functions, including WebSub ``GET`` intent verification."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from multidict import CIMultiDict, MultiDict, MultiDictProxy

from hookgate.gateway.shaping.handshakes import (
    MAX_CHALLENGE_CHARS,
    discord_ping,
    slack_url_verification,
    twitch_callback_verification,
    websub_challenge,
    zoom_url_validation,
)
from hookgate.gateway.verify.base import WebhookRequest


def get(query: list[tuple[str, str]], method: str = "GET") -> WebhookRequest:
    return WebhookRequest(
        method, "https://h.example/hooks/x", CIMultiDict(), b"", query=MultiDictProxy(MultiDict(query))
    )


SUBSCRIBE = [("hub.mode", "subscribe"), ("hub.topic", "https://feed.example/atom"), ("hub.challenge", "c-123")]


def test_websub_subscribe_echoes_the_challenge() -> None:
    reply = websub_challenge(get(SUBSCRIBE), None)
    assert reply is not None
    assert (reply.status, reply.body) == (200, b"c-123")
    assert reply.content_type.startswith("text/plain")


def test_websub_unsubscribe_is_also_confirmed() -> None:
    query = [("hub.mode", "unsubscribe"), ("hub.challenge", "bye")]
    reply = websub_challenge(get(query), None)
    assert reply is not None
    assert reply.body == b"bye"


def test_websub_verify_token_must_match_when_configured() -> None:
    assert websub_challenge(get([*SUBSCRIBE, ("hub.verify_token", "tok")]), "tok") is not None
    assert websub_challenge(get([*SUBSCRIBE, ("hub.verify_token", "nope")]), "tok") is None
    assert websub_challenge(get(SUBSCRIBE), "tok") is None
    assert websub_challenge(get([*SUBSCRIBE, ("hub.verify_token", "tok"), ("hub.verify_token", "tok")]), "tok") is None


@pytest.mark.parametrize(
    "query",
    [
        [("hub.mode", "denied"), ("hub.challenge", "c")],
        [("hub.mode", "subscribe")],
        [("hub.challenge", "c")],
        [("hub.mode", "subscribe"), ("hub.challenge", "")],
        [("hub.mode", "subscribe"), ("hub.challenge", "x" * (MAX_CHALLENGE_CHARS + 1))],
        [("hub.mode", "subscribe"), ("hub.challenge", "a"), ("hub.challenge", "b")],
    ],
)
def test_websub_non_verifications_get_no_reply(query: list[tuple[str, str]]) -> None:
    assert websub_challenge(get(query), None) is None


def test_websub_only_answers_get() -> None:
    assert websub_challenge(get(SUBSCRIBE, method="POST"), None) is None


def test_slack_reply_only_for_url_verification() -> None:
    reply = slack_url_verification({"type": "url_verification", "challenge": "abc"})
    assert reply is not None
    assert reply.body == b"abc"
    assert slack_url_verification({"type": "event_callback", "challenge": "abc"}) is None
    assert slack_url_verification({"type": "url_verification", "challenge": 5}) is None
    assert slack_url_verification(None) is None


def test_zoom_encrypted_token_is_hex_hmac_of_the_plain_token() -> None:
    payload = {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
    reply = zoom_url_validation(payload, b"secret-token")
    assert reply is not None
    assert reply.content_type == "application/json"
    assert orjson.loads(reply.body) == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": hmac.new(b"secret-token", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest(),
    }
    assert zoom_url_validation({"event": "meeting.started"}, b"s") is None
    assert zoom_url_validation({"event": "endpoint.url_validation", "payload": []}, b"s") is None


def test_twitch_reply_only_for_callback_verification() -> None:
    reply = twitch_callback_verification("webhook_callback_verification", {"challenge": "ch"})
    assert reply is not None
    assert (reply.status, reply.body) == (200, b"ch")
    assert twitch_callback_verification("notification", {"challenge": "ch"}) is None


@pytest.mark.parametrize(
    ("payload", "endpoint", "expected"),
    [
        ({"type": 1}, "interactions", (200, b'{"type":1}')),
        ({"type": 0}, "events", (204, b"")),
        ({"type": 0}, "interactions", None),
        ({"type": 1}, "events", None),
        ({"type": True}, "interactions", None),
        ({"type": 2}, "interactions", None),
    ],
)
def test_discord_ping(payload: dict[str, object], endpoint: str, expected: tuple[int, bytes] | None) -> None:
    reply = discord_ping(payload, endpoint)
    assert (None if reply is None else (reply.status, reply.body)) == expected
