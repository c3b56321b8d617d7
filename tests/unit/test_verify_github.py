"""GitHub's own published example: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from multidict import CIMultiDict
from pydantic import SecretStr

from hookgate.gateway.verify.base import Verifier, WebhookRequest
from hookgate.gateway.verify.senders import GitHubConfig

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def verifier(*secrets: str, allow_sha1: bool = False) -> Verifier:
    return GitHubConfig(type="github", secrets=[SecretStr(s) for s in secrets], allow_sha1=allow_sha1).build()


def req(headers: list[tuple[str, str]], body: bytes = BODY) -> WebhookRequest:
    return WebhookRequest(method="POST", url="http://x/hooks/t", headers=CIMultiDict(headers), body=body)


def test_githubs_documented_vector_is_accepted() -> None:
    verdict = verifier(SECRET).verify(
        req([("X-Hub-Signature-256", SIGNATURE), ("X-GitHub-Delivery", "d-1"), ("X-GitHub-Event", "push")])
    )
    assert verdict.ok
    assert verdict.delivery_id == "d-1"
    assert verdict.event_type == "com.github.push"


def test_any_active_secret_is_accepted_during_rotation() -> None:
    assert verifier("new-secret", SECRET).verify(req([("X-Hub-Signature-256", SIGNATURE)])).ok


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ([], BODY, "missing_signature"),
        ([("X-Hub-Signature-256", SIGNATURE)], b"Hello, World?", "bad_signature"),
        ([("X-Hub-Signature-256", SIGNATURE[:-1] + "f")], BODY, "bad_signature"),
        ([("X-Hub-Signature-256", SIGNATURE[:-8])], BODY, "bad_signature"),
        ([("X-Hub-Signature-256", SIGNATURE.replace("sha256=", "sha1="))], BODY, "malformed_signature"),
        (
            [("X-Hub-Signature-256", SIGNATURE), ("X-Hub-Signature-256", SIGNATURE)],
            BODY,
            "duplicate_signature_header",
        ),
    ],
)
def test_rejections_name_their_reason(headers: list[tuple[str, str]], body: bytes, reason: str) -> None:
    verdict = verifier(SECRET).verify(req(headers, body))
    assert not verdict.ok
    assert verdict.reason == reason


def test_wrong_secret_is_rejected() -> None:
    assert verifier("not it").verify(req([("X-Hub-Signature-256", SIGNATURE)])).reason == "bad_signature"


def test_legacy_sha1_only_when_enabled() -> None:
    sig = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert verifier(SECRET).verify(req([("X-Hub-Signature", sig)])).reason == "missing_signature"
    assert verifier(SECRET, allow_sha1=True).verify(req([("X-Hub-Signature", sig)])).ok
