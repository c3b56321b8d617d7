"""Negative cases for every preset, from one table.

Each case signs a request the way its sender does (keys derived from the secret so the test is
deterministic), checks that the genuine request passes, then that each tampering fails with a
stable reason: one flipped byte in the body or the signature, a wrong secret, a stale or future
timestamp (where the scheme signs one), a missing or repeated credential, a truncated signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from pydantic import TypeAdapter

from hookgate.gateway.shaping import bodies
from hookgate.gateway.shaping.bodies import LazyBody, MediaType, ParsedBody, media_type
from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig

NOW = 1_700_000_000
SECRET = "test-secret-0123456789abcdef"
OTHER = "other-secret-fedcba9876543210"
URL = "https://hooks.example.com/hooks/trigger-1?src=test"
JSON_BODY = b'{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}},"note":"hello world"}'
FORM_BODY = b"AccountSid=AC123&Body=Hello+there&From=%2B15551234567&MessageSid=SM1&To=%2B15557654321"

ADAPTER: TypeAdapter[Any] = TypeAdapter(VerifyConfig)


@dataclass(frozen=True)
class Signed:
    headers: list[tuple[str, str]]
    body: bytes = JSON_BODY
    url: str = URL


@dataclass(frozen=True)
class Case:
    name: str
    config: Callable[[str], dict[str, Any]]
    sign: Callable[[str, int], Signed]
    credential: str  # header carrying the signature or token; "?name" for a query parameter
    tolerance: int | None = None  # set when the scheme signs a timestamp
    signs_body: bool = True
    missing: str = "missing_signature"
    duplicate: str = "duplicate_signature_header"


def hexmac(secret: str, msg: bytes, algo: str = "sha256") -> str:
    return hmac.new(secret.encode(), msg, algo).hexdigest()


def b64mac(secret: str | bytes, msg: bytes, algo: str = "sha256") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, msg, algo).digest()).decode()


def ed25519_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(secret.encode()).digest())


def ed25519_public_raw(secret: str) -> bytes:
    return ed25519_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def p256_key(secret: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(hashlib.sha256(secret.encode()).digest()) >> 8, ec.SECP256R1())


def p256_public_b64(secret: str) -> str:
    der = p256_key(secret).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def whsec(secret: str) -> str:
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def std_content(msg_id: str, ts: int, body: bytes) -> bytes:
    return f"{msg_id}.{ts}.".encode() + body


def twilio_sig(secret: str, url: str, body: bytes) -> str:
    params = sorted(parse_qsl(body.decode(), keep_blank_values=True))
    return b64mac(secret, (url + "".join(k + v for k, v in params)).encode(), "sha1")


def linear_body(ts: int) -> bytes:
    return b'{"action":"create","type":"Issue","data":{"id":"iss_1"},"webhookTimestamp":%d}' % (ts * 1000)


def rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


CASES = [
    Case(
        "github",
        lambda s: {"type": "github", "secrets": [s]},
        lambda s, ts: Signed([("X-Hub-Signature-256", "sha256=" + hexmac(s, JSON_BODY))]),
        "X-Hub-Signature-256",
    ),
    Case(
        "gitlab",
        lambda s: {"type": "gitlab", "tokens": [s]},
        lambda s, ts: Signed([("X-Gitlab-Token", s)]),
        "X-Gitlab-Token",
        signs_body=False,
        missing="missing_token",
        duplicate="duplicate_token",
    ),
    Case(
        "bitbucket",
        lambda s: {"type": "bitbucket", "secrets": [s]},
        lambda s, ts: Signed([("X-Hub-Signature", "sha256=" + hexmac(s, JSON_BODY))]),
        "X-Hub-Signature",
    ),
    Case(
        "stripe",
        lambda s: {"type": "stripe", "secrets": [s]},
        lambda s, ts: Signed([("Stripe-Signature", f"t={ts},v1={hexmac(s, f'{ts}.'.encode() + JSON_BODY)}")]),
        "Stripe-Signature",
        tolerance=300,
    ),
    Case(
        "slack",
        lambda s: {"type": "slack", "secrets": [s]},
        lambda s, ts: Signed(
            [
                ("X-Slack-Request-Timestamp", str(ts)),
                ("X-Slack-Signature", "v0=" + hexmac(s, f"v0:{ts}:".encode() + JSON_BODY)),
            ]
        ),
        "X-Slack-Signature",
        tolerance=300,
    ),
    Case(
        "standard_webhooks_v1",
        lambda s: {"type": "standard_webhooks", "secrets": [whsec(s)]},
        lambda s, ts: Signed(
            [
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", str(ts)),
                ("webhook-signature", "v1," + b64mac(s, std_content("msg_1", ts, JSON_BODY))),
            ]
        ),
        "webhook-signature",
        tolerance=300,
    ),
    Case(
        "standard_webhooks_v1a",
        lambda s: {
            "type": "standard_webhooks",
            "public_keys": ["whpk_" + base64.b64encode(ed25519_public_raw(s)).decode()],
        },
        lambda s, ts: Signed(
            [
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", str(ts)),
                (
                    "webhook-signature",
                    "v1a," + base64.b64encode(ed25519_key(s).sign(std_content("msg_1", ts, JSON_BODY))).decode(),
                ),
            ]
        ),
        "webhook-signature",
        tolerance=300,
    ),
    Case(
        "svix",
        lambda s: {"type": "svix", "secrets": [whsec(s)]},
        lambda s, ts: Signed(
            [
                ("svix-id", "msg_1"),
                ("svix-timestamp", str(ts)),
                ("svix-signature", "v1," + b64mac(s, std_content("msg_1", ts, JSON_BODY))),
            ]
        ),
        "svix-signature",
        tolerance=300,
    ),
    Case(
        "shopify",
        lambda s: {"type": "shopify", "secrets": [s]},
        lambda s, ts: Signed([("X-Shopify-Hmac-Sha256", b64mac(s, JSON_BODY))]),
        "X-Shopify-Hmac-Sha256",
    ),
    Case(
        "twilio",
        lambda s: {"type": "twilio", "secrets": [s]},
        lambda s, ts: Signed([("X-Twilio-Signature", twilio_sig(s, URL, FORM_BODY))], body=FORM_BODY),
        "X-Twilio-Signature",
    ),
    Case(
        "pagerduty",
        lambda s: {"type": "pagerduty", "secrets": [s]},
        lambda s, ts: Signed([("X-PagerDuty-Signature", "v1=" + hexmac(s, JSON_BODY))]),
        "X-PagerDuty-Signature",
    ),
    Case(
        "square",
        lambda s: {"type": "square", "secrets": [s], "notification_url": URL},
        lambda s, ts: Signed([("x-square-hmacsha256-signature", b64mac(s, URL.encode() + JSON_BODY))]),
        "x-square-hmacsha256-signature",
    ),
    Case(
        "paddle",
        lambda s: {"type": "paddle", "secrets": [s]},
        lambda s, ts: Signed([("Paddle-Signature", f"ts={ts};h1={hexmac(s, f'{ts}:'.encode() + JSON_BODY)}")]),
        "Paddle-Signature",
        tolerance=5,
    ),
    Case(
        "zoom",
        lambda s: {"type": "zoom", "secrets": [s]},
        lambda s, ts: Signed(
            [
                ("x-zm-request-timestamp", str(ts)),
                ("x-zm-signature", "v0=" + hexmac(s, f"v0:{ts}:".encode() + JSON_BODY)),
            ]
        ),
        "x-zm-signature",
        tolerance=300,
    ),
    Case(
        "linear",
        lambda s: {"type": "linear", "secrets": [s]},
        lambda s, ts: Signed([("Linear-Signature", hexmac(s, linear_body(ts)))], body=linear_body(ts)),
        "Linear-Signature",
        tolerance=60,
    ),
    Case(
        "discord",
        lambda s: {"type": "discord", "public_keys": [ed25519_public_raw(s).hex()]},
        lambda s, ts: Signed(
            [
                ("X-Signature-Timestamp", str(ts)),
                ("X-Signature-Ed25519", ed25519_key(s).sign(str(ts).encode() + JSON_BODY).hex()),
            ]
        ),
        "X-Signature-Ed25519",
        tolerance=300,
    ),
    Case(
        "sendgrid",
        lambda s: {"type": "sendgrid", "public_keys": [p256_public_b64(s)]},
        lambda s, ts: Signed(
            [
                ("X-Twilio-Email-Event-Webhook-Timestamp", str(ts)),
                (
                    "X-Twilio-Email-Event-Webhook-Signature",
                    base64.b64encode(
                        p256_key(s).sign(str(ts).encode() + JSON_BODY, ec.ECDSA(hashes.SHA256()))
                    ).decode(),
                ),
            ]
        ),
        "X-Twilio-Email-Event-Webhook-Signature",
        tolerance=300,
    ),
    Case(
        "twitch",
        lambda s: {"type": "twitch", "secrets": [s]},
        lambda s, ts: Signed(
            [
                ("Twitch-Eventsub-Message-Id", "m-1"),
                ("Twitch-Eventsub-Message-Timestamp", rfc3339(ts)),
                ("Twitch-Eventsub-Message-Type", "notification"),
                (
                    "Twitch-Eventsub-Message-Signature",
                    "sha256=" + hexmac(s, b"m-1" + rfc3339(ts).encode() + JSON_BODY),
                ),
            ]
        ),
        "Twitch-Eventsub-Message-Signature",
        tolerance=600,
    ),
    Case(
        "hmac",
        lambda s: {
            "type": "hmac",
            "secrets": [s],
            "header": "X-Signature",
            "algorithm": "sha512",
            "encoding": "base64",
            "prefix": "sha512=",
            "template": "{timestamp}.{body}",
            "timestamp_header": "X-Timestamp",
        },
        lambda s, ts: Signed(
            [("X-Timestamp", str(ts)), ("X-Signature", "sha512=" + b64mac(s, f"{ts}.".encode() + JSON_BODY, "sha512"))]
        ),
        "X-Signature",
        tolerance=300,
    ),
    Case(
        "bearer",
        lambda s: {"type": "bearer", "tokens": [s]},
        lambda s, ts: Signed([("Authorization", f"Bearer {s}")]),
        "Authorization",
        signs_body=False,
        missing="missing_token",
        duplicate="duplicate_token",
    ),
    Case(
        "basic",
        lambda s: {"type": "basic", "credentials": [{"username": "sender", "password": s}]},
        lambda s, ts: Signed([("Authorization", "Basic " + base64.b64encode(f"sender:{s}".encode()).decode())]),
        "Authorization",
        signs_body=False,
        missing="missing_token",
        duplicate="duplicate_token",
    ),
    Case(
        "header_token",
        lambda s: {"type": "header_token", "header": "X-Webhook-Token", "tokens": [s]},
        lambda s, ts: Signed([("X-Webhook-Token", s)]),
        "X-Webhook-Token",
        signs_body=False,
        missing="missing_token",
        duplicate="duplicate_token",
    ),
    Case(
        "query_token",
        lambda s: {"type": "query_token", "param": "key", "tokens": [s]},
        lambda s, ts: Signed([], url=f"{URL}&key={quote(s)}"),
        "?key",
        signs_body=False,
        missing="missing_token",
        duplicate="duplicate_token",
    ),
]

BY_NAME = {c.name: c for c in CASES}
NAMES = list(BY_NAME)
TIMESTAMPED = [c.name for c in CASES if c.tolerance is not None]
BODY_SIGNED = [c.name for c in CASES if c.signs_body]
REJECTED_CREDENTIAL = {"bad_signature", "malformed_signature", "bad_token", "malformed_token"}


def run(case: Case, signed: Signed, secret: str = SECRET) -> Verdict:
    verifier = ADAPTER.validate_python(case.config(secret)).build()
    query = MultiDictProxy(MultiDict(parse_qsl(urlsplit(signed.url).query, keep_blank_values=True)))
    request = WebhookRequest(
        method="POST", url=signed.url, headers=CIMultiDict(signed.headers), body=signed.body, query=query, now=NOW
    )
    verdict: Verdict = verifier.verify(request)
    return verdict


def credential(case: Case, signed: Signed) -> str:
    if case.credential.startswith("?"):
        return dict(parse_qsl(urlsplit(signed.url).query))[case.credential[1:]]
    return next(v for k, v in signed.headers if k.lower() == case.credential.lower())


def with_credential(case: Case, signed: Signed, values: list[str]) -> Signed:
    """The request with the credential replaced by ``values`` (none: removed; two: repeated)."""
    if case.credential.startswith("?"):
        name = case.credential[1:]
        base, _, query = signed.url.partition("?")
        kept = [(k, v) for k, v in parse_qsl(query) if k != name] + [(name, v) for v in values]
        return replace(signed, url=base + "?" + "&".join(f"{k}={quote(v)}" for k, v in kept))
    kept_headers = [(k, v) for k, v in signed.headers if k.lower() != case.credential.lower()]
    return replace(signed, headers=kept_headers + [(case.credential, v) for v in values])


def flip_char(text: str, index: int) -> str:
    """Change one character to another of the same class (hex stays hex, base64 stays base64)."""
    c = text[index]
    if c.isdigit():
        new = str((int(c) + 1) % 10)
    elif c.isalpha():
        base = ord("a") if c.islower() else ord("A")
        new = chr(base + ((ord(c) - base) ^ 1))
    else:
        new = "A"
    return text[:index] + new + text[index + 1 :]


@pytest.mark.parametrize("name", NAMES)
def test_genuine_request_is_accepted(name: str) -> None:
    case = BY_NAME[name]
    verdict = run(case, case.sign(SECRET, NOW))
    assert verdict.ok, verdict.reason
    assert verdict.reason == "ok"


@pytest.mark.parametrize("name", NAMES)
def test_any_active_secret_is_accepted_during_rotation(name: str) -> None:
    case = BY_NAME[name]
    config = case.config(OTHER)
    current = case.config(SECRET)
    for key in ("secrets", "tokens", "public_keys", "credentials"):
        if key in config:
            config[key] = config[key] + current[key]
    verifier = ADAPTER.validate_python(config).build()
    signed = case.sign(SECRET, NOW)
    query = MultiDictProxy(MultiDict(parse_qsl(urlsplit(signed.url).query)))
    request = WebhookRequest("POST", signed.url, CIMultiDict(signed.headers), signed.body, query, now=NOW)
    assert verifier.verify(request).ok


@pytest.mark.parametrize("name", BODY_SIGNED)
def test_one_flipped_body_byte_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    body = bytearray(signed.body)
    body[len(body) // 2] ^= 0x01
    verdict = run(case, replace(signed, body=bytes(body)))
    assert not verdict.ok
    assert verdict.reason == "bad_signature"


@pytest.mark.parametrize("name", NAMES)
def test_one_flipped_signature_character_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    value = credential(case, signed)
    verdict = run(case, with_credential(case, signed, [flip_char(value, len(value) - 6)]))
    assert not verdict.ok
    assert verdict.reason in REJECTED_CREDENTIAL


@pytest.mark.parametrize("name", NAMES)
def test_wrong_secret_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    verdict = run(case, case.sign(SECRET, NOW), secret=OTHER)
    assert not verdict.ok
    assert verdict.reason in {"bad_signature", "bad_token"}


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_stale_timestamp_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    assert case.tolerance is not None
    assert run(case, case.sign(SECRET, NOW - case.tolerance + 1)).ok  # just inside the window
    verdict = run(case, case.sign(SECRET, NOW - case.tolerance - 2))
    assert (verdict.ok, verdict.reason) == (False, "stale_timestamp")


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_future_timestamp_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    assert case.tolerance is not None
    assert run(case, case.sign(SECRET, NOW + case.tolerance - 1)).ok
    verdict = run(case, case.sign(SECRET, NOW + case.tolerance + 2))
    assert (verdict.ok, verdict.reason) == (False, "future_timestamp")


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_null_tolerance_switches_the_window_off(name: str) -> None:
    case = BY_NAME[name]
    no_window = replace(case, config=lambda s: {**case.config(s), "tolerance_seconds": None})
    for age in (-7 * 86_400, 7 * 86_400):  # a week stale, a week ahead
        assert run(no_window, case.sign(SECRET, NOW + age)).ok
        assert not run(no_window, case.sign(OTHER, NOW + age)).ok


@pytest.mark.parametrize("name", NAMES)
def test_missing_credential_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    verdict = run(case, with_credential(case, case.sign(SECRET, NOW), []))
    assert (verdict.ok, verdict.reason) == (False, case.missing)


@pytest.mark.parametrize("name", NAMES)
def test_duplicated_credential_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    value = credential(case, signed)
    verdict = run(case, with_credential(case, signed, [value, value]))
    assert (verdict.ok, verdict.reason) == (False, case.duplicate)


@pytest.mark.parametrize("name", NAMES)
def test_truncated_signature_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    value = credential(case, signed)
    verdict = run(case, with_credential(case, signed, [value[:-8]]))
    assert not verdict.ok
    assert verdict.reason in REJECTED_CREDENTIAL


@pytest.mark.parametrize("name", TIMESTAMPED)
def test_missing_or_garbled_timestamp_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    if name == "linear":  # the timestamp is a body field, covered in test_verify_mapping
        return
    signed = case.sign(SECRET, NOW)
    ts_headers = [k for k, _ in signed.headers if "timestamp" in k.lower()]
    if not ts_headers:  # Stripe and Paddle carry it inside the signature header
        value = credential(case, signed)
        stripped = ",".join(p for p in value.replace(";", ",").split(",") if not p.startswith(("t=", "ts=")))
        verdict = run(case, with_credential(case, signed, [stripped]))
        assert (verdict.ok, verdict.reason) == (False, "missing_timestamp")
        return
    (name_ts,) = ts_headers
    without = replace(signed, headers=[(k, v) for k, v in signed.headers if k != name_ts])
    assert run(case, without).reason == "missing_timestamp"
    garbled = replace(signed, headers=[*without.headers, (name_ts, "yesterday")])
    assert run(case, garbled).reason == "malformed_timestamp"
    twice = replace(signed, headers=[*signed.headers, (name_ts, dict(signed.headers)[name_ts])])
    assert run(case, twice).reason == "duplicate_timestamp_header"


@pytest.mark.parametrize("name", NAMES)
def test_verification_and_the_handler_parse_the_body_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[MediaType] = []
    real = bodies.parse_body

    def counting(body: bytes, media: MediaType, **kw: Any) -> ParsedBody:
        calls.append(media)
        return real(body, media, **kw)

    monkeypatch.setattr(bodies, "parse_body", counting)
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    content_type = "application/x-www-form-urlencoded" if signed.body == FORM_BODY else "application/json"
    shared = LazyBody(signed.body, media_type(content_type))  # as the handler makes it, once per request
    verifier = ADAPTER.validate_python(case.config(SECRET)).build()
    query = MultiDictProxy(MultiDict(parse_qsl(urlsplit(signed.url).query, keep_blank_values=True)))
    headers = CIMultiDict([*signed.headers, ("Content-Type", content_type)])
    request = WebhookRequest("POST", signed.url, headers, signed.body, query, now=NOW, shared_body=shared)
    assert verifier.verify(request).ok
    shared.parsed()  # the handler's parse, for validation and variables
    assert len(calls) == 1


# --- bytes that are not UTF-8 (aiohttp hands them over as lone surrogates): a rejection, never a raise ---


def as_aiohttp_decodes(raw: bytes) -> str:
    """Header bytes as aiohttp gives them to the handler: UTF-8 with surrogateescape."""
    return raw.decode("utf-8", "surrogateescape")


NON_UTF8_CREDENTIALS = [
    b"\xff\xfe",
    b"sha256=\xff\xfe",
    b"v0=\xff",
    b"Bearer \xff",
    b"Basic \xff\xfe",
    b"v1,\xff\xfe v1a,\xff",
    b"t=1700000000,v1=\xff",
    b"ts=1700000000;h1=\xc3",
    b"caf\xe9",
]


def run_with(case: Case, signed: Signed, headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> Verdict:
    """``signed`` with ``headers`` and ``query`` as given (values already as aiohttp decodes them)."""
    verifier = ADAPTER.validate_python(case.config(SECRET)).build()
    request = WebhookRequest(
        "POST", signed.url, CIMultiDict(headers), signed.body, MultiDictProxy(MultiDict(query)), now=NOW
    )
    verdict: Verdict = verifier.verify(request)
    return verdict


def replaced(case: Case, signed: Signed, value: str) -> Verdict:
    """``signed`` with its credential (header or query parameter) replaced by ``value``."""
    query = parse_qsl(urlsplit(signed.url).query, keep_blank_values=True)
    headers = list(signed.headers)
    if case.credential.startswith("?"):
        query = [(k, v) for k, v in query if k != case.credential[1:]] + [(case.credential[1:], value)]
    else:
        headers = [(k, v) for k, v in headers if k.lower() != case.credential.lower()] + [(case.credential, value)]
    return run_with(case, signed, headers, query)


@pytest.mark.parametrize("raw", NON_UTF8_CREDENTIALS, ids=repr)
@pytest.mark.parametrize("name", NAMES)
def test_a_non_utf8_credential_is_rejected(name: str, raw: bytes) -> None:
    case = BY_NAME[name]
    verdict = replaced(case, case.sign(SECRET, NOW), as_aiohttp_decodes(raw))
    assert not verdict.ok
    assert verdict.reason in REJECTED_CREDENTIAL | {case.missing, "missing_timestamp", "malformed_timestamp"}


@pytest.mark.parametrize("name", NAMES)
def test_the_genuine_credential_with_one_non_utf8_byte_is_rejected(name: str) -> None:
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    value = credential(case, signed)
    for bad in (value[:-1] + "\udcff", "\udcc3" + value, value + "\udcff", value + "\ud800"):
        verdict = replaced(case, signed, bad)
        assert not verdict.ok
        assert verdict.reason in REJECTED_CREDENTIAL | {case.missing, "malformed_timestamp", "missing_timestamp"}


@pytest.mark.parametrize("name", NAMES)
def test_non_utf8_bytes_in_any_other_header_never_raise(name: str) -> None:
    # Timestamps, ids, event names, Content-Type: the genuine credential stays, one other header is garbled.
    case = BY_NAME[name]
    signed = case.sign(SECRET, NOW)
    others = [k for k, _ in signed.headers if k.lower() != case.credential.lower()]
    extra = ["X-GitHub-Delivery", "X-Gitlab-Event", "Content-Type", "Twitch-Eventsub-Message-Type"]
    for header in [*others, *extra]:
        headers = [(k, v) for k, v in signed.headers if k != header] + [(header, as_aiohttp_decodes(b"1\xff\xfe"))]
        verdict = run_with(case, signed, headers, parse_qsl(urlsplit(signed.url).query, keep_blank_values=True))
        if verdict.ok:  # a descriptive header: what the verdict names is valid text
            for named in (verdict.delivery_id, verdict.event_type, verdict.subject):
                assert named is None or isinstance(named.encode(), bytes)
        else:
            assert verdict.reason in {"bad_signature", "malformed_timestamp", "missing_timestamp", "missing_id"}


URL_SIGNING = {
    "square": lambda s: {"type": "square", "secrets": [s]},  # signs the URL the gateway reconstructed
    "twilio": lambda s: {"type": "twilio", "secrets": [s]},
    "hmac_url": lambda s: {"type": "hmac", "secrets": [s], "header": "X-Signature", "template": "{url}{body}"},
}


@pytest.mark.parametrize("name", list(URL_SIGNING))
@pytest.mark.parametrize("host", [b"\xff", b"h\xc3:8080", b"[", b"h:99999", b"h:port", b"[::1"], ids=repr)
def test_a_url_from_a_hostile_host_header_is_a_bad_signature(name: str, host: bytes) -> None:
    # The URL is the gateway's reconstruction from the client's Host header (no signed_url configured).
    verifier = ADAPTER.validate_python(URL_SIGNING[name](SECRET)).build()
    url = "http://" + as_aiohttp_decodes(host) + "/hooks/trigger-1?bodySHA256=00"
    signature = b64mac(SECRET, JSON_BODY)
    headers = CIMultiDict(
        [("x-square-hmacsha256-signature", signature), ("X-Twilio-Signature", signature), ("X-Signature", "00")]
    )
    query = MultiDictProxy(MultiDict([("bodySHA256", "00")]))
    verdict = verifier.verify(WebhookRequest("POST", url, headers, JSON_BODY, query, now=NOW))
    assert (verdict.ok, verdict.reason) == (False, "bad_signature")


def test_a_url_signing_preset_with_signed_url_ignores_a_hostile_host() -> None:
    url = "https://hooks.example.com/hooks/trigger-1"
    verifier = ADAPTER.validate_python({"type": "square", "secrets": [SECRET], "signed_url": url}).build()
    headers = CIMultiDict([("x-square-hmacsha256-signature", b64mac(SECRET, url.encode() + JSON_BODY))])
    received = "http://" + as_aiohttp_decodes(b"[\xff") + "/hooks/trigger-1"
    assert verifier.verify(WebhookRequest("POST", received, headers, JSON_BODY, now=NOW)).ok
