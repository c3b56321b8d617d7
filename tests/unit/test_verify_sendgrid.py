"""SendGrid signed Event Webhook: the vector from sendgrid-python's tests, and cross-checks with its helper.

Vector: https://github.com/sendgrid/sendgrid-python/blob/main/test/unit/test_eventwebhook.py
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict
from pydantic import ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.sendgrid import SendGridConfig

PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
    "2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
OTHER_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+"
    "y7GjUuFDb/R1NGe1OPzpA=="
)
SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
TIMESTAMP = "1600112502"
PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()


def verify(sig: str, body: bytes = PAYLOAD, ts: str = TIMESTAMP, *keys: str) -> Verdict:
    verifier = SendGridConfig(type="sendgrid", public_keys=list(keys or (PUBLIC_KEY,))).build()
    headers = CIMultiDict(
        [("X-Twilio-Email-Event-Webhook-Signature", sig), ("X-Twilio-Email-Event-Webhook-Timestamp", ts)]
    )
    return verifier.verify(WebhookRequest("POST", "https://h/hooks/x", headers, body, now=float(ts)))


def test_published_vector_is_accepted() -> None:
    assert verify(SIGNATURE).ok
    assert EventWebhook(PUBLIC_KEY).verify_signature(PAYLOAD.decode(), SIGNATURE, TIMESTAMP)


def test_published_vector_with_the_sdks_bad_key_is_rejected() -> None:
    assert verify(SIGNATURE, PAYLOAD, TIMESTAMP, OTHER_KEY).reason == "bad_signature"
    assert verify(SIGNATURE, PAYLOAD, TIMESTAMP, OTHER_KEY, PUBLIC_KEY).ok  # rotation: either key


def test_published_vector_with_a_changed_timestamp_is_rejected() -> None:
    assert verify(SIGNATURE, PAYLOAD, "1600112503").reason == "bad_signature"


def test_signature_made_here_is_accepted_by_the_sdk_and_the_preset() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    body, ts = b'[{"event":"delivered","sg_event_id":"e1"}]\r\n', "1700000000"
    sig = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    assert EventWebhook(public).verify_signature(body.decode(), sig, ts)
    assert verify(sig, body, ts, public).ok
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert verify(sig, body, ts, pem).ok


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"junk").decode()])
def test_unusable_public_keys_are_refused_at_config_time(key: str) -> None:
    with pytest.raises(ValidationError):
        SendGridConfig(type="sendgrid", public_keys=[key])


def test_non_p256_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = base64.b64encode(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    with pytest.raises(ValidationError, match="P-256"):
        SendGridConfig(type="sendgrid", public_keys=[der])
