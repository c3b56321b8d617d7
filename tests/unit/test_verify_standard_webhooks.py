"""Standard Webhooks and Svix: the spec libraries' published vectors, SDK signatures, signature lists.

Vectors: ``v1`` from standard-webhooks ``libraries/python/tests/test_webhooks.py`` (test_sign_function),
``v1a`` from ``libraries/go/webhook_asymmetric_test.go`` (TestAsymmetricWebhookSign), both in
https://github.com/standard-webhooks/standard-webhooks.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import svix
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict
from pydantic import TypeAdapter, ValidationError

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_V1 = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_ED25519_SEED = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
VECTOR_V1A = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="

ADAPTER: TypeAdapter[Any] = TypeAdapter(VerifyConfig)


def vector_public_key() -> str:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(VECTOR_ED25519_SEED))
    return "whpk_" + base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def verify(
    config: dict[str, Any],
    sig: str,
    *,
    prefix: str = "webhook-",
    msg_id: str = VECTOR_ID,
    ts: int = VECTOR_TS,
    body: bytes = VECTOR_BODY,
    now: float | None = None,
) -> Verdict:
    verifier = ADAPTER.validate_python(config).build()
    headers = CIMultiDict([(prefix + "id", msg_id), (prefix + "timestamp", str(ts)), (prefix + "signature", sig)])
    verdict: Verdict = verifier.verify(
        WebhookRequest("POST", "https://h/hooks/x", headers, body, now=ts if now is None else now)
    )
    return verdict


def test_published_v1_vector_is_accepted() -> None:
    verdict = verify({"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}, VECTOR_V1)
    assert verdict.ok
    assert verdict.delivery_id == VECTOR_ID


def test_published_v1a_ed25519_vector_is_accepted() -> None:
    config = {"type": "standard_webhooks", "public_keys": [vector_public_key()]}
    assert verify(config, VECTOR_V1A).ok
    assert verify(config, VECTOR_V1).reason == "bad_signature"  # no secret configured for v1


def test_secret_without_whsec_prefix_is_the_same_secret() -> None:
    assert verify({"type": "standard_webhooks", "secrets": [VECTOR_SECRET.removeprefix("whsec_")]}, VECTOR_V1).ok


def test_standardwebhooks_sdk_signature_is_accepted_and_the_sdk_accepts_ours() -> None:
    ts, body = 1_700_000_123, b'{"type":"invoice.paid","data":{}}'
    sig = standardwebhooks.Webhook(VECTOR_SECRET).sign(VECTOR_ID, datetime.fromtimestamp(ts, UTC), body.decode())
    config = {"type": "standard_webhooks", "secrets": [VECTOR_SECRET], "type_prefix": "com.acme"}
    verdict = verify(config, sig, ts=ts, body=body)
    assert verdict.ok
    assert verdict.event_type == "com.acme.invoice.paid"


def test_the_sdk_verifies_the_published_vector_like_the_preset() -> None:
    # the SDK checks against the real clock, so hand it a fresh signature over the vector's id and body
    now = datetime.now(UTC)
    wh = standardwebhooks.Webhook(VECTOR_SECRET)
    sig = wh.sign(VECTOR_ID, now, VECTOR_BODY.decode())
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig}
    assert wh.verify(VECTOR_BODY, headers) == {"test": 2432232314}
    config = {"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}
    assert verify(config, sig, ts=int(now.timestamp())).ok


def test_svix_sdk_signature_is_accepted_under_svix_headers() -> None:
    ts, body = 1_700_000_123, b'{"type":"user.created"}'
    sig = svix.Webhook(VECTOR_SECRET).sign(VECTOR_ID, datetime.fromtimestamp(ts, UTC), body.decode())
    config = {"type": "svix", "secrets": [VECTOR_SECRET]}
    assert verify(config, sig, prefix="svix-", ts=ts, body=body).ok
    assert verify(config, sig, prefix="webhook-", ts=ts, body=body).ok  # unbranded names too
    standard = {"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}
    assert verify(standard, sig, prefix="svix-", ts=ts, body=body).reason == "missing_signature"


def test_space_separated_list_with_unknown_versions_and_a_valid_one() -> None:
    sigs = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            VECTOR_V1,
            VECTOR_V1A,
        ]
    )
    assert verify({"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}, sigs).ok
    assert verify({"type": "standard_webhooks", "public_keys": [vector_public_key()]}, sigs).ok


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        ("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "bad_signature"),
        ("v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "bad_signature"),
        ("v1", "malformed_signature"),
        ("v1,not base64!", "malformed_signature"),
        ("v1a,", "bad_signature"),
    ],
)
def test_unusable_signatures_name_their_reason(sig: str, reason: str) -> None:
    assert verify({"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}, sig).reason == reason


def test_five_minute_default_window() -> None:
    config = {"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}
    assert verify(config, VECTOR_V1, now=VECTOR_TS + 300).ok
    assert verify(config, VECTOR_V1, now=VECTOR_TS + 301).reason == "stale_timestamp"
    assert verify(config, VECTOR_V1, now=VECTOR_TS - 301).reason == "future_timestamp"


def test_missing_id_is_rejected() -> None:
    verifier = ADAPTER.validate_python({"type": "standard_webhooks", "secrets": [VECTOR_SECRET]}).build()
    headers = CIMultiDict([("webhook-timestamp", str(VECTOR_TS)), ("webhook-signature", VECTOR_V1)])
    request = WebhookRequest("POST", "https://h/hooks/x", headers, VECTOR_BODY, now=VECTOR_TS)
    assert verifier.verify(request).reason == "missing_id"


@pytest.mark.parametrize(
    "config",
    [
        {"type": "standard_webhooks"},
        {"type": "standard_webhooks", "secrets": ["whsec_%%%"]},
        {"type": "standard_webhooks", "public_keys": ["whpk_AAAA"]},
        {"type": "svix", "secrets": [VECTOR_SECRET], "tolerance_seconds": 0},
    ],
)
def test_invalid_configs_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(config)
