"""Audit records: redaction of credentials and signatures, and what a record carries."""

from __future__ import annotations

import orjson
import pytest
from structlog.testing import capture_logs

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.audit.record import REDACTED, Auditor, AuditRecord, AuditSettings, is_sensitive, redact_headers


def record(**over: object) -> AuditRecord:
    base: dict[str, object] = {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "request_id": "r1",
        "trigger": "gh",
        "tenant": "acme",
        "method": "POST",
        "outcome": "rejected",
        "reason": "bad_signature",
        "status": 401,
        "client_ip": "198.51.100.7",
        "peer": "10.0.0.5",
        "request_bytes": 300,
        "body_bytes": 20,
        "event_id": None,
        "duration_ms": 1.5,
    }
    base.update(over)
    return AuditRecord(**base)  # type: ignore[arg-type]


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


def test_record_dict_omits_absent_headers_and_the_topic_receives_every_record() -> None:
    assert "headers" not in record().to_dict()
    assert record(headers={"a": "b"}).to_dict()["headers"] == {"a": "b"}
    got: list[AuditRecord] = []
    auditor = Auditor(AuditSettings(log=False), got.append)
    auditor.emit(record())
    auditor.emit(record(outcome="accepted", reason="ok", status=202, event_id="e1"))
    assert [(r.outcome, r.event_id) for r in got] == [("rejected", None), ("accepted", "e1")]


def test_the_record_is_the_request_log_line_and_log_false_leaves_a_minimal_request_line() -> None:
    full, minimal = Auditor(AuditSettings(include_headers=True)), Auditor(AuditSettings(log=False))
    with capture_logs() as logs:
        full.emit(record(headers={"x-github-event": "push"}))
        minimal.emit(record(headers={"x-github-event": "push"}))
    line, short = logs
    assert line == {
        "event": "audit",
        "log_level": "info",
        **{k: v for k, v in record(headers={"x-github-event": "push"}).to_dict().items() if k != "timestamp"},
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
