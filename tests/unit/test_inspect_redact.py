"""What the inspector hides: the audit log's header rules, credential fields of bodies, verify headers."""

from __future__ import annotations

import base64

import orjson
import pytest

from hookgate.admin.inspect.redact import (
    REDACTED,
    is_credential_field,
    redact_body,
    redact_request_headers,
    verify_header_names,
)


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("token", True),
        ("access_token", True),
        ("clientSecret", True),
        ("api_key", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("password", True),
        ("private_key", True),
        ("author", False),
        ("authors_url", False),
        ("tokenizer_version", False),
        ("key", False),
        ("monkey", False),
    ],
)
def test_credential_fields_are_whole_words(name: str, credential: bool) -> None:
    assert is_credential_field(name) is credential


def test_json_bodies_lose_credential_values_only() -> None:
    raw = b'{"author": {"name": "ada"}, "token": "t0k", "items": [{"clientSecret": "s"}, {"n": 1}], "password": ""}'
    out = redact_body(raw, "application/json; charset=utf-8")
    assert out.redacted
    assert out.text is not None
    assert orjson.loads(out.text) == {
        "author": {"name": "ada"},
        "token": REDACTED,
        "items": [{"clientSecret": REDACTED}, {"n": 1}],
        "password": "",  # nothing to hide
    }


def test_a_body_with_nothing_to_hide_is_byte_exact() -> None:
    raw = b'{ "b": 1,\n  "a": [true] }'
    out = redact_body(raw, "application/json")
    assert (out.text, out.redacted, out.base64) == (raw.decode(), False, None)


def test_form_bodies_and_other_media_types() -> None:
    form = redact_body(b"token=abc&text=hello+there", "application/x-www-form-urlencoded")
    assert form.redacted
    assert form.text == f"token={REDACTED.replace('[', '%5B').replace(']', '%5D')}&text=hello+there"
    xml = b"<push><token>kept as sent</token></push>"
    assert redact_body(xml, "application/xml").text == xml.decode()
    broken = redact_body(b"{not json", "application/json")
    assert (broken.text, broken.redacted) == ("{not json", False)


def test_binary_bodies_come_back_as_base64() -> None:
    raw = b"\xff\x00\xfe"
    out = redact_body(raw, "application/octet-stream")
    assert out.text is None
    assert out.base64 == base64.b64encode(raw).decode()


def test_headers_follow_the_audit_rules_and_the_verify_preset() -> None:
    headers = {"Authorization": "Bearer x", "X-Relay-Key": "k", "X-Partner": "p", "Content-Type": "text/plain"}
    out = redact_request_headers(headers, {"X-Relay-Key"}, ["x-partner"])
    assert out == {
        "authorization": REDACTED,
        "x-relay-key": REDACTED,
        "x-partner": REDACTED,
        "content-type": "text/plain",
    }


def test_verify_header_names_without_the_secrets() -> None:
    assert "x-github-delivery" in verify_header_names({"type": "github"})
    assert verify_header_names({"type": "header_token", "header": "X-Relay-Key"}) == {"x-relay-key"}
    assert verify_header_names({"type": "hmac", "header": "X-Sig", "timestamp_header": "X-Ts"}) >= {"x-sig", "x-ts"}
    assert verify_header_names({"type": "standard-webhooks"}) >= {"webhook-signature"}
    # An unknown preset still hides the headers it names.
    assert verify_header_names({"type": "from-the-future", "header": "X-Odd", "id_header": "X-Id"}) == {"x-odd", "x-id"}
    assert verify_header_names(None) == frozenset()
