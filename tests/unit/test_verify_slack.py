"""Slack: the documented example, signatures made by slack_sdk, handshake and event typing.

The vector is the one in Slack's "Verifying requests from Slack" guide
(https://api.slack.com/authentication/verifying-requests-from-slack), as also used by slack_sdk's tests.
"""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.senders import TimestampedSecretsConfig

DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_TS = "1531420618"
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SECRET = "slack-signing-secret"


class FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify(body: bytes, ts: str, sig: str, *, secret: str = SECRET, now: float | None = None) -> Verdict:
    verifier = TimestampedSecretsConfig(type="slack", secrets=[SecretStr(secret)]).build()
    headers = CIMultiDict([("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", sig)])
    return verifier.verify(
        WebhookRequest("POST", "https://h/hooks/x", headers, body, now=float(ts) if now is None else now)
    )


def sdk_sign(body: bytes, ts: str, secret: str = SECRET) -> str:
    signature: str = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return signature


def test_slacks_documented_example_is_accepted_as_a_slash_command() -> None:
    verdict = verify(DOC_BODY, DOC_TS, DOC_SIGNATURE, secret=DOC_SECRET)
    assert verdict.ok
    assert verdict.event_type == "com.slack.slash_command"
    assert verdict.subject == "/webhook-collect"


def test_documented_example_outside_the_window_is_stale() -> None:
    verdict = verify(DOC_BODY, DOC_TS, DOC_SIGNATURE, secret=DOC_SECRET, now=int(DOC_TS) + 301)
    assert verdict.reason == "stale_timestamp"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"event_callback","event":{"type":"app_mention"}}',
        b"payload=%7B%22type%22%3A%22block_actions%22%7D",
        b"",
    ],
)
def test_signatures_made_by_slack_sdk_are_accepted(body: bytes) -> None:
    ts = "1700000000"
    assert verify(body, ts, sdk_sign(body, ts)).ok


def test_slack_sdk_accepts_what_the_preset_accepts_and_rejects_a_tampered_body() -> None:
    ts, body = "1700000000", b'{"type":"event_callback"}'
    sig = sdk_sign(body, ts)
    sdk = SignatureVerifier(SECRET, clock=FixedClock(1_700_000_000))
    assert sdk.is_valid(body=body, timestamp=ts, signature=sig)
    assert verify(body, ts, sig).ok
    assert not sdk.is_valid(body=body + b" ", timestamp=ts, signature=sig)
    assert verify(body + b" ", ts, sig).reason == "bad_signature"


def test_events_api_delivery_maps_event_id_and_inner_type() -> None:
    body = orjson.dumps(
        {"type": "event_callback", "event_id": "Ev123", "team_id": "T1", "event": {"type": "app_mention"}}
    )
    verdict = verify(body, "1700000000", sdk_sign(body, "1700000000"))
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == ("Ev123", "com.slack.app_mention", "T1")
    assert verdict.handshake is None


def test_interactive_payload_is_typed_by_its_type() -> None:
    body = b"payload=%7B%22type%22%3A%22view_submission%22%7D"
    assert verify(body, "1700000000", sdk_sign(body, "1700000000")).event_type == "com.slack.view_submission"


def test_signed_url_verification_is_answered_with_the_challenge() -> None:
    body = b'{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}'
    verdict = verify(body, "1700000000", sdk_sign(body, "1700000000"))
    assert verdict.ok
    assert verdict.handshake is not None
    assert verdict.handshake.status == 200
    assert verdict.handshake.body == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert verdict.handshake.content_type.startswith("text/plain")


def test_unsigned_url_verification_gets_no_handshake() -> None:
    body = b'{"challenge":"c","type":"url_verification"}'
    verdict = verify(body, "1700000000", sdk_sign(body, "1700000000", secret="not the secret"))
    assert (verdict.ok, verdict.reason, verdict.handshake) == (False, "bad_signature", None)


def test_signature_without_version_prefix_is_malformed() -> None:
    ts = "1700000000"
    assert verify(b"", ts, sdk_sign(b"", ts)[3:]).reason == "malformed_signature"
