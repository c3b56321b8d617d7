"""Twilio: the vectors from twilio-python's request-validator tests, and the SDK's own signing.

Vectors: https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py
(auth token ``12345``, the documented example URL and call parameters).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from multidict import CIMultiDict, MultiDict
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.twilio import TwilioConfig, TwilioVerifier, url_variants

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
JSON_BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def verify(
    url: str,
    body: bytes,
    sig: str,
    *,
    token: str = TOKEN,
    extra: list[tuple[str, str]] | None = None,
    signed_url: str | None = None,
) -> Verdict:
    verifier = TwilioVerifier(TwilioConfig(type="twilio", secrets=[SecretStr(token)], signed_url=signed_url))
    headers = CIMultiDict([("X-Twilio-Signature", sig), *(extra or [])])
    return verifier.verify(WebhookRequest("POST", url, headers, body))


def form(params: dict[str, str] | list[tuple[str, str]]) -> bytes:
    return urlencode(params).encode()


def test_published_form_vector_is_accepted() -> None:
    verdict = verify(URL, form(PARAMS), EXPECTED)
    assert verdict.ok
    assert verdict.subject == "CA1234567890ABCDE"


def test_parameter_order_in_the_body_does_not_matter() -> None:
    assert verify(URL, form(list(reversed(PARAMS.items()))), EXPECTED).ok


@pytest.mark.parametrize(
    ("url", "sig"),
    [
        ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", EXPECTED),  # signed without the port
        ("https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
        ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80
        ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),  # signed with :1234
    ],
)
def test_published_port_variants_are_accepted(url: str, sig: str) -> None:
    assert verify(url, form(PARAMS), sig).ok


def test_published_duplicate_parameter_vector() -> None:
    body = form([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")])
    assert verify(URL, body, "IK+Dwps556ElfBT0I3Rgjkr1wJU=").ok


def test_published_json_body_hash_vector() -> None:
    url = f"{URL}&bodySHA256={BODY_HASH}"
    assert verify(url, JSON_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=").ok
    assert verify(url, JSON_BODY + b" ", "a9nBmqA0ju/hNViExpshrM61xv4=").reason == "bad_body_hash"


def test_sdk_compute_signature_is_accepted_and_the_sdk_validates_what_we_accept() -> None:
    params = MultiDict([("Body", "héllo wörld"), ("From", "+15551234567"), ("MessageSid", "SM9"), ("To", "+1555")])
    body = form(list(params.items()))
    validator = RequestValidator("auth-token-xyz")
    sig = validator.compute_signature(URL, params)
    verdict = verify(URL, body, sig, token="auth-token-xyz", extra=[("I-Twilio-Idempotency-Token", "idem-1")])
    assert (verdict.ok, verdict.delivery_id, verdict.subject) == (True, "idem-1", "SM9")
    assert validator.validate(URL, params, sig)
    assert verify(URL, body, sig).reason == "bad_signature"


def test_sdk_sha256_shared_key_signature_is_accepted() -> None:
    validator = RequestValidator("shared-key-secret")
    sig = validator.compute_signature(URL, PARAMS, algorithm="HMAC_SHA256")
    settings = ("X-Twilio-Webhooks-Signature-Settings", "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256")
    assert verify(URL, form(PARAMS), sig, token="shared-key-secret", extra=[settings]).ok
    assert verify(URL, form(PARAMS), sig, token="shared-key-secret").reason == "bad_signature"
    unknown = ("X-Twilio-Webhooks-Signature-Settings", "algorithm=HMAC_MD5")
    assert verify(URL, form(PARAMS), sig, token="shared-key-secret", extra=[unknown]).reason == "unsupported_algorithm"


def test_url_as_seen_behind_a_proxy_matters() -> None:
    assert verify("http://10.0.0.5:8080/myapp.php?foo=1&bar=2", form(PARAMS), EXPECTED).reason == "bad_signature"


# The gateway reached through an ingress that maps https://mycompany.com/myapp.php to /hooks/<id>.
BEHIND_INGRESS = "http://10.0.0.5:8080/hooks/Qm9vdHN0cmFwLXR3aWxpby0x?foo=1&bar=2"


@pytest.mark.parametrize("signed_url", ["https://mycompany.com/myapp.php", URL])
def test_documented_example_verifies_with_signed_url_behind_a_rewriting_ingress(signed_url: str) -> None:
    assert verify(BEHIND_INGRESS, form(PARAMS), EXPECTED).reason == "bad_signature"  # the rebuilt URL
    verdict = verify(BEHIND_INGRESS, form(PARAMS), EXPECTED, signed_url=signed_url)
    assert (verdict.ok, verdict.subject) == (True, "CA1234567890ABCDE")


def test_signed_url_takes_the_query_twilio_adds_from_the_request() -> None:
    request_url = f"{BEHIND_INGRESS}&bodySHA256={BODY_HASH}"
    signed_url = "https://mycompany.com/myapp.php"
    assert verify(request_url, JSON_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=", signed_url=signed_url).ok


def test_url_variants_keep_userinfo_and_query() -> None:
    assert url_variants("https://u:p@h.example/p?q=1") == [
        "https://u:p@h.example/p?q=1",
        "https://u:p@h.example:443/p?q=1",
    ]
