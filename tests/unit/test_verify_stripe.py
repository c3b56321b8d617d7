"""Stripe: signatures made with the stripe SDK, cross-checked both ways, and the event mapping.

Stripe publishes no fixed secret/body/signature triple, so the SDK is the reference here.
"""

from __future__ import annotations

import time

import orjson
import pytest
import stripe
from multidict import CIMultiDict
from pydantic import SecretStr

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.senders import TimestampedSecretsConfig

SECRET = "whsec_test_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH"
OLD_SECRET = "whsec_test_previous_0000000000000000"
BODY = orjson.dumps(
    {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "type": "invoice.paid",
        "data": {"object": {"id": "in_1"}},
    }
)
TS = 1_700_000_000


def sdk_v1(body: bytes, ts: int, secret: str = SECRET) -> str:
    sig: str = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return sig


def verify(header: str, body: bytes = BODY, *secrets: str, now: float = TS) -> Verdict:
    verifier = TimestampedSecretsConfig(type="stripe", secrets=[SecretStr(s) for s in secrets or (SECRET,)]).build()
    headers = CIMultiDict([("Stripe-Signature", header)])
    return verifier.verify(WebhookRequest("POST", "https://h/hooks/x", headers, body, now=now))


def test_sdk_signature_is_accepted_and_maps_the_event() -> None:
    verdict = verify(f"t={TS},v1={sdk_v1(BODY, TS)}")
    assert verdict.ok
    assert verdict.delivery_id == "evt_1NG8Du2eZvKYlo2CUI79vXWy"
    assert verdict.event_type == "com.stripe.invoice.paid"
    assert verdict.subject == "in_1"


def test_header_the_preset_accepts_is_accepted_by_the_sdk() -> None:
    header = f"t={TS},v1={sdk_v1(BODY, TS)},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    assert verify(header).ok
    # tolerance=0 switches the SDK's own clock check off; the preset's window is tested separately
    event = stripe.Webhook.construct_event(BODY, header, SECRET, tolerance=0)
    assert event["id"] == "evt_1NG8Du2eZvKYlo2CUI79vXWy"


def test_several_v1_signatures_during_a_secret_roll() -> None:
    header = f"t={TS},v1={sdk_v1(BODY, TS, OLD_SECRET)},v1={sdk_v1(BODY, TS)}"
    assert verify(header).ok
    assert verify(header, BODY, OLD_SECRET).ok
    assert verify(header, BODY, "whsec_unrelated").reason == "bad_signature"


def test_default_tolerance_is_five_minutes() -> None:
    header = f"t={TS},v1={sdk_v1(BODY, TS)}"
    assert verify(header, now=TS + 300).ok
    assert verify(header, now=TS + 301).reason == "stale_timestamp"
    assert verify(header, now=TS - 301).reason == "future_timestamp"


def test_sdk_rejects_a_stale_header_too() -> None:
    ts = int(time.time()) - 301
    header = f"t={ts},v1={sdk_v1(BODY, ts)}"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(BODY, header, SECRET, tolerance=300)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f"v1={'0' * 64}", "missing_timestamp"),
        (f"t={TS}", "missing_signature"),
        (f"t={TS},v0={'0' * 64}", "missing_signature"),
        (f"t={TS},t={TS},v1={'0' * 64}", "malformed_signature"),
        (f"t=soon,v1={'0' * 64}", "malformed_timestamp"),
        ("garbage", "malformed_signature"),
        (f"t={TS},v1=zz", "malformed_signature"),
    ],
)
def test_malformed_headers_name_their_reason(header: str, reason: str) -> None:
    assert verify(header).reason == reason
