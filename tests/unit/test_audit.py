"""Audit records: redaction of credentials and signatures, and what a record carries."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.audit.record import REDACTED, Auditor, AuditRecord, AuditSettings, is_sensitive, redact_headers
from hookgate.gateway.intake.clientip import ClientAddress
from tests.support.webhooks import webhook_request


def client(ip: str = "198.51.100.7", peer: str = "10.0.0.5") -> ClientAddress:
    return ClientAddress(ip=ip, peer=peer, url="https://gateway.test/hooks/t", via_proxy=ip != peer)


def audit(auditor: Auditor, request: web.Request, **over: Any) -> None:
    """One handled request, as the handler reports it."""
    facts: dict[str, Any] = {
        "request_id": "r1",
        "trigger": "gh",
        "tenant": "acme",
        "client": client(),
        "outcome": "rejected",
        "reason": "bad_signature",
        "status": 401,
        "event_id": None,
        "seconds": 0.0015,
    }
    facts.update(over)
    auditor.request(request, **facts)


async def read(request: web.Request) -> web.Request:
    await request.read()  # the handler has read the body by the time it audits
    return request


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "X-Hub-Signature-256",
        "Stripe-Signature",
        "X-Twilio-Signature",
        "X-Shopify-Hmac-Sha256",
        "X-Gitlab-Token",
        "webhook-signature",
        "X-Signature-Ed25519",
        "X-My-Custom-Token",  # generic presets name their own headers: caught by the name
        "X-Partner-Secret",
        "X-Api-Key",
    ],
)
def test_credential_and_signature_headers_are_sensitive(name: str) -> None:
    assert is_sensitive(name)


def test_redaction_keeps_ordinary_headers_and_configured_names_are_redacted_too() -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "push"),
        ("Authorization", "Bearer s3cr3t"),
        ("X-Hub-Signature-256", "sha256=abc"),
        ("X-Partner-Id", "p-1"),
        ("X-Partner-Ref", "hidden-by-config"),
        ("Accept", "a"),
        ("Accept", "b"),
        ("Cookie", "a=1"),
        ("Cookie", "b=2"),
    ]
    out = redact_headers(headers, frozenset({"x-partner-ref"}))
    assert out == {
        "content-type": "application/json",
        "x-github-event": "push",
        "authorization": REDACTED,
        "x-hub-signature-256": REDACTED,
        "x-partner-id": "p-1",
        "x-partner-ref": REDACTED,
        "accept": "a, b",
        "cookie": REDACTED,
    }
    blob = orjson.dumps(out)
    for secret in (b"s3cr3t", b"sha256=abc", b"hidden-by-config", b"a=1"):
        assert secret not in blob


def test_headers_are_left_out_unless_included() -> None:
    assert Auditor(AuditSettings()).headers([("Authorization", "x")]) is None
    auditor = Auditor(load_model(AuditSettings, {"include_headers": True, "redact_headers": [" X-Ref "]}, "<t>"))
    assert auditor.headers([("X-Ref", "v"), ("X-Other", "w")]) == {"x-ref": REDACTED, "x-other": "w"}


async def test_the_topic_receives_every_record_with_the_sizes_as_received() -> None:
    got: list[AuditRecord] = []
    auditor = Auditor(AuditSettings(log=False), got.append)
    body = b'{"n": 1}'
    audit(auditor, await read(webhook_request("t", body, {"X-GitHub-Event": "push"})))
    audit(auditor, webhook_request("t"), outcome="accepted", reason="ok", status=202, event_id="e1")
    assert [(r.outcome, r.event_id) for r in got] == [("rejected", None), ("accepted", "e1")]
    first = got[0]
    assert (first.method, first.client_ip, first.peer, first.duration_ms) == ("POST", "198.51.100.7", "10.0.0.5", 1.5)
    assert first.body_bytes == len(body)
    assert first.request_bytes > first.body_bytes  # the head counts too
    assert first.headers is None
    assert "headers" not in first.to_dict()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.timestamp)


async def test_the_record_is_the_request_log_line_and_log_false_leaves_a_minimal_request_line() -> None:
    topic: list[AuditRecord] = []
    full = Auditor(AuditSettings(include_headers=True), topic.append)
    minimal = Auditor(AuditSettings(log=False))
    headers = {"X-GitHub-Event": "push", "Authorization": "Bearer do-not-log"}
    with capture_logs() as logs:
        audit(full, webhook_request("t", headers=headers))
        audit(minimal, webhook_request("t", headers=headers))
    line, short = logs
    (record,) = topic
    assert record.headers is not None
    assert record.headers["x-github-event"] == "push"
    assert record.headers["authorization"] == REDACTED
    assert line == {
        "event": "audit",
        "log_level": "info",
        **{k: v for k, v in record.to_dict().items() if k != "timestamp"},
    }
    assert short == {
        "event": "webhook",
        "log_level": "info",
        "request_id": "r1",
        "trigger": "gh",
        "tenant": "acme",
        "event_id": None,
        "outcome": "rejected",
        "reason": "bad_signature",
        "status": 401,
        "method": "POST",
        "duration_ms": 1.5,
    }


def test_audit_settings_reject_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="include_body: unknown key"):
        load_model(AuditSettings, {"include_body": True}, "<t>")


def test_the_headers_a_triggers_verify_preset_reads_are_redacted_in_its_records_only() -> None:
    # X-Relay-Key and X-Sig hold a token and a signature, but no name fragment gives them away.
    assert not is_sensitive("X-Relay-Key")
    assert not is_sensitive("X-Sig")
    settings = AuditSettings(include_headers=True, redact_headers=["x-ref"])
    auditor = Auditor(settings, verify_headers={"relay": ["X-Relay-Key"], "signed": ["x-sig", "x-sig-time"]})
    sent = [("X-Relay-Key", "relay-token"), ("X-Sig", "abc123"), ("X-Sig-Time", "1700000000"), ("X-Ref", "r")]
    assert auditor.headers(sent, "relay") == {
        "x-relay-key": REDACTED,
        "x-sig": "abc123",
        "x-sig-time": "1700000000",
        "x-ref": REDACTED,
    }
    assert auditor.headers(sent, "signed") == {
        "x-relay-key": "relay-token",
        "x-sig": REDACTED,
        "x-sig-time": REDACTED,
        "x-ref": REDACTED,
    }
    # An unknown trigger (404) or one without a preset's headers: the fixed list and redact_headers.
    assert (
        auditor.headers(sent, None)
        == auditor.headers(sent, "other")
        == dict((k.lower(), REDACTED if k == "X-Ref" else v) for k, v in sent)
    )


async def test_the_request_line_redacts_the_triggers_verify_headers() -> None:
    auditor = Auditor(AuditSettings(include_headers=True), verify_headers={"gh": ["X-Relay-Key"]})
    with capture_logs() as logs:
        audit(auditor, webhook_request("t", headers={"X-Relay-Key": "do-not-log", "X-Other": "ok"}))
    (line,) = logs
    assert line["headers"]["x-relay-key"] == REDACTED
    assert line["headers"]["x-other"] == "ok"
    assert "do-not-log" not in orjson.dumps(line).decode()
