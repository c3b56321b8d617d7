"""Per-sender details beyond the shared negative table: delivery id, CloudEvents type and subject
mapping, Paddle's published SDK vector, Twitch and Zoom handshakes, Linear's body timestamp, the
generic HMAC template, and the token presets' header parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from pydantic import TypeAdapter, ValidationError

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.eventtype import ce_type, normalize
from hookgate.gateway.verify.registry import VerifyConfig

ADAPTER: TypeAdapter[Any] = TypeAdapter(VerifyConfig)
SECRET = "mapping-secret"
NOW = 1_700_000_000


def verify(
    config: dict[str, Any],
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    url: str = "https://h.example/hooks/x",
    method: str = "POST",
    query: list[tuple[str, str]] | None = None,
    now: float = NOW,
) -> Verdict:
    verifier = ADAPTER.validate_python(config).build()
    request = WebhookRequest(
        method, url, CIMultiDict(headers), body, query=MultiDictProxy(MultiDict(query or [])), now=now
    )
    verdict: Verdict = verifier.verify(request)
    return verdict


def hexmac(msg: bytes, secret: str = SECRET, algo: str = "sha256") -> str:
    return hmac.new(secret.encode(), msg, algo).hexdigest()


# --- Paddle -------------------------------------------------------------------------------------


def test_paddle_sdk_published_vector_with_rotation_and_a_junk_entry() -> None:
    """paddle-python-sdk tests/Unit/Notification/test_Verifier.py: three secrets, the third signed."""
    secrets = [
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
        "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
    ]
    header = "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"
    config = {"type": "paddle", "secrets": secrets}
    assert verify(config, [("Paddle-Signature", header)], b"hello-world", now=1696195954).ok
    assert verify({**config, "secrets": secrets[:2]}, [("Paddle-Signature", header)], b"hello-world").reason == (
        "bad_signature"
    )
    assert verify(config, [("Paddle-Signature", header)], b"hello-world", now=1696195954 + 6).reason == (
        "stale_timestamp"
    )


def test_paddle_event_mapping() -> None:
    body = orjson.dumps({"event_id": "evt_01h", "event_type": "transaction.completed", "data": {"id": "txn_1"}})
    sig = f"ts={NOW};h1={hexmac(f'{NOW}:'.encode() + body)}"
    verdict = verify({"type": "paddle", "secrets": [SECRET]}, [("Paddle-Signature", sig)], body)
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == (
        "evt_01h",
        "com.paddle.transaction.completed",
        "txn_1",
    )


# --- header-mapped senders ----------------------------------------------------------------------


def test_gitlab_mapping_prefers_idempotency_key() -> None:
    config = {"type": "gitlab", "tokens": [SECRET]}
    base = [("X-Gitlab-Token", SECRET), ("X-Gitlab-Event", "Merge Request Hook")]
    verdict = verify(config, [*base, ("Idempotency-Key", "idem-1"), ("X-Gitlab-Event-UUID", "uuid-1")])
    assert (verdict.delivery_id, verdict.event_type) == ("idem-1", "com.gitlab.merge_request_hook")
    assert verify(config, [*base, ("X-Gitlab-Event-UUID", "uuid-1")]).delivery_id == "uuid-1"


def test_bitbucket_mapping() -> None:
    body = b'{"push":{}}'
    headers = [
        ("X-Hub-Signature", "sha256=" + hexmac(body)),
        ("X-Request-UUID", "req-1"),
        ("X-Event-Key", "repo:push"),
    ]
    verdict = verify({"type": "bitbucket", "secrets": [SECRET]}, headers, body)
    assert (verdict.delivery_id, verdict.event_type) == ("req-1", "com.bitbucket.repo.push")


def test_bitbucket_rejects_a_sha1_signature() -> None:
    body = b"{}"
    sha1 = "sha1=" + hexmac(body, algo="sha1")
    assert verify({"type": "bitbucket", "secrets": [SECRET]}, [("X-Hub-Signature", sha1)], body).reason == (
        "malformed_signature"
    )


def test_shopify_mapping() -> None:
    body = b'{"id":820982911946154508}'
    sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = [
        ("X-Shopify-Hmac-Sha256", sig),
        ("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Shop-Domain", "example.myshopify.com"),
    ]
    verdict = verify({"type": "shopify", "secrets": [SECRET]}, headers, body)
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == (
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "com.shopify.orders.create",
        "example.myshopify.com",
    )


def test_pagerduty_mapping_and_rotation_list() -> None:
    body = orjson.dumps({"event": {"id": "01DEN", "event_type": "incident.triggered", "data": {"id": "PGR0VU2"}}})
    header = f"v1={hexmac(body, 'old-secret')},v1={hexmac(body)}"
    verdict = verify({"type": "pagerduty", "secrets": [SECRET]}, [("X-PagerDuty-Signature", header)], body)
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == (
        "01DEN",
        "com.pagerduty.incident.triggered",
        "PGR0VU2",
    )


def test_body_that_is_not_json_still_verifies_without_mapping() -> None:
    body = b"not json"
    verdict = verify(
        {"type": "pagerduty", "secrets": [SECRET]}, [("X-PagerDuty-Signature", "v1=" + hexmac(body))], body
    )
    assert (verdict.ok, verdict.delivery_id, verdict.event_type) == (True, None, None)


# --- Zoom ---------------------------------------------------------------------------------------


def zoom_headers(body: bytes, secret: str = SECRET, ts: int = NOW) -> list[tuple[str, str]]:
    return [
        ("x-zm-request-timestamp", str(ts)),
        ("x-zm-signature", "v0=" + hexmac(f"v0:{ts}:".encode() + body, secret)),
    ]


def test_zoom_url_validation_is_answered_with_the_secret_that_verified_it() -> None:
    body = (
        b'{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,'
        b'"event":"endpoint.url_validation"}'
    )
    config = {"type": "zoom", "secrets": ["old-token", SECRET]}
    verdict = verify(config, zoom_headers(body), body)
    assert verdict.ok
    assert verdict.handshake is not None
    reply = orjson.loads(verdict.handshake.body)
    assert reply == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest(),
    }


def test_zoom_event_is_typed_without_handshake() -> None:
    body = b'{"event":"meeting.started","payload":{"object":{"id":"1"}}}'
    verdict = verify({"type": "zoom", "secrets": [SECRET]}, zoom_headers(body), body)
    assert (verdict.handshake, verdict.event_type) == (None, "com.zoom.meeting.started")


# --- Linear -------------------------------------------------------------------------------------


def test_linear_mapping() -> None:
    body = orjson.dumps(
        {"action": "update", "type": "Issue", "data": {"id": "iss-1"}, "webhookTimestamp": NOW * 1000 + 250}
    )
    headers = [("Linear-Signature", hexmac(body)), ("Linear-Delivery", "del-1"), ("Linear-Event", "Issue")]
    verdict = verify({"type": "linear", "secrets": [SECRET]}, headers, body)
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == ("del-1", "com.linear.issue.update", "iss-1")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({"type": "Issue"}, "missing_timestamp"), ({"webhookTimestamp": "soon"}, "malformed_timestamp")],
)
def test_linear_body_timestamp_is_required(payload: dict[str, Any], reason: str) -> None:
    body = orjson.dumps(payload)
    assert verify({"type": "linear", "secrets": [SECRET]}, [("Linear-Signature", hexmac(body))], body).reason == reason


# --- Twitch -------------------------------------------------------------------------------------


def twitch_headers(body: bytes, kind: str, sub_type: str = "channel.follow") -> list[tuple[str, str]]:
    ts = "2023-11-14T22:13:20.123456789Z"  # NOW, with Twitch's nanoseconds
    return [
        ("Twitch-Eventsub-Message-Id", "e76c6bd4-55c9-4987-8304-da1588d8988b"),
        ("Twitch-Eventsub-Message-Timestamp", ts),
        ("Twitch-Eventsub-Message-Type", kind),
        ("Twitch-Eventsub-Subscription-Type", sub_type),
        (
            "Twitch-Eventsub-Message-Signature",
            "sha256=" + hexmac(b"e76c6bd4-55c9-4987-8304-da1588d8988b" + ts.encode() + body),
        ),
    ]


def test_twitch_callback_verification_is_answered_with_the_challenge() -> None:
    body = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}'
    verdict = verify(
        {"type": "twitch", "secrets": [SECRET]}, twitch_headers(body, "webhook_callback_verification"), body
    )
    assert verdict.handshake is not None
    assert (verdict.handshake.status, verdict.handshake.body) == (200, b"pogchamp-kappa-360noscope-vohiyo")
    assert verdict.handshake.content_type.startswith("text/plain")


def test_twitch_notification_and_revocation_mapping() -> None:
    body = b'{"subscription":{"type":"channel.follow"},"event":{}}'
    note = verify({"type": "twitch", "secrets": [SECRET]}, twitch_headers(body, "notification"), body)
    assert (note.delivery_id, note.event_type, note.handshake) == (
        "e76c6bd4-55c9-4987-8304-da1588d8988b",
        "com.twitch.channel.follow",
        None,
    )
    revoked = verify({"type": "twitch", "secrets": [SECRET]}, twitch_headers(body, "revocation"), body)
    assert (revoked.event_type, revoked.subject) == ("com.twitch.revocation", "channel.follow")


# --- generic HMAC -------------------------------------------------------------------------------


def test_generic_hmac_template_with_every_placeholder() -> None:
    config = {
        "type": "hmac",
        "secrets": [SECRET],
        "header": "X-Sig",
        "algorithm": "sha1",
        "template": "{method}\n{url}\n{id}\n{timestamp}\n{body}",
        "timestamp_header": "X-Ts",
        "id_header": "X-Delivery",
        "type_header": "X-Event",
        "type_prefix": "com.acme",
    }
    url, body = "https://h.example/hooks/x?a=1", b'{"k":1}'
    sig = hexmac(f"POST\n{url}\nd-9\n{NOW}\n".encode() + body, algo="sha1")
    headers = [("X-Sig", sig), ("X-Ts", str(NOW)), ("X-Delivery", "d-9"), ("X-Event", "Order Paid")]
    verdict = verify(config, headers, body, url=url)
    assert (verdict.ok, verdict.delivery_id, verdict.event_type) == (True, "d-9", "com.acme.order_paid")
    assert verify(config, headers, body, url=url, method="PUT").reason == "bad_signature"
    assert verify(config, headers[:2] + headers[3:], body, url=url).reason == "missing_id"


def test_generic_hmac_defaults_to_hex_sha256_of_the_body() -> None:
    config = {"type": "hmac", "secrets": [SECRET], "header": "X-Signature"}
    assert verify(config, [("X-Signature", hexmac(b"abc").upper())], b"abc").ok


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"template": "{timestamp}.{body}"}, "timestamp_header"),
        ({"template": "{id}.{body}"}, "id_header"),
        ({"template": "{nonce}.{body}"}, "unknown placeholder"),
        ({"template": "{timestamp}"}, "must contain {body}"),
        ({"type_header": "X-Event"}, "type_prefix"),
        ({"algorithm": "md5"}, "algorithm"),
    ],
)
def test_generic_hmac_config_errors(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ADAPTER.validate_python({"type": "hmac", "secrets": [SECRET], "header": "X-Signature", **extra})


# --- token presets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Bearer " + SECRET, "ok"),
        ("bearer   " + SECRET, "ok"),
        ("Basic " + SECRET, "malformed_token"),
        ("Bearer", "malformed_token"),
        ("Bearer wrong", "bad_token"),
    ],
)
def test_bearer_header_parsing(value: str, reason: str) -> None:
    assert verify({"type": "bearer", "tokens": [SECRET]}, [("Authorization", value)]).reason == reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Basic " + base64.b64encode(b"ci:" + SECRET.encode()).decode(), "ok"),
        ("Basic " + base64.b64encode(b"ops:other-pass").decode(), "ok"),
        ("Basic " + base64.b64encode(b"ops:" + SECRET.encode()).decode(), "bad_token"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed_token"),
        ("Basic !!!", "malformed_token"),
        ("Bearer x", "malformed_token"),
    ],
)
def test_basic_auth_accepts_any_configured_pair(value: str, reason: str) -> None:
    config = {
        "type": "basic",
        "credentials": [{"username": "ci", "password": SECRET}, {"username": "ops", "password": "other-pass"}],
    }
    assert verify(config, [("Authorization", value)]).reason == reason


def test_query_token_reads_the_configured_parameter() -> None:
    config = {"type": "query_token", "tokens": [SECRET]}
    assert verify(config, [], query=[("token", SECRET)]).ok
    assert verify(config, [], query=[("key", SECRET)]).reason == "missing_token"


# --- event type naming --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("push", "push"),
        ("Push Hook", "push_hook"),
        ("orders/create", "orders.create"),
        ("repo:push", "repo.push"),
        ("invoice.paid", "invoice.paid"),
        ("APPLICATION_AUTHORIZED", "application_authorized"),
        ("  weird--name!! ", "weird_name"),
    ],
)
def test_event_names_normalize_to_dotted_lower_case(name: str, expected: str) -> None:
    assert normalize(name) == expected


def test_ce_type_needs_a_name() -> None:
    assert ce_type("stripe", None) is None
    assert ce_type("linear", "Issue", None) == "com.linear.issue"
