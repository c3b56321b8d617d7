"""With ``include_headers: true`` the headers a trigger's verify config reads are redacted whatever they are
called: a ``header_token`` on ``X-Relay-Key`` and a generic ``hmac`` on ``X-Sig``, names that no fixed list
or name fragment catches. Checked in the log line and on the audit topic of a gateway on the real broker."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from structlog.testing import capture_logs

from tests.support.builders import new_trigger_id, read_topic
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

RELAY_TOKEN = "relay-token-do-not-log"
HMAC_SECRET = "hmac-secret-do-not-log"
SIG_ID = "sig-id-7d1c"


def sign(body: bytes, ts: str) -> str:
    return hmac.new(HMAC_SECRET.encode(), f"{SIG_ID}.{ts}.".encode() + body, hashlib.sha256).hexdigest()


async def test_a_triggers_own_token_and_signature_headers_are_redacted(kafka_bootstrap: str, topic_prefix: str) -> None:
    relay, signed = new_trigger_id(), new_trigger_id()
    triggers = [
        {
            "id": relay,
            "name": "relay",
            "tenant": "acme",
            "verify": {"type": "header_token", "header": "X-Relay-Key", "tokens": [RELAY_TOKEN]},
        },
        {
            "id": signed,
            "name": "signed",
            "tenant": "acme",
            "verify": {
                "type": "hmac",
                "secrets": [HMAC_SECRET],
                "header": "X-Sig",
                "template": "{id}.{timestamp}.{body}",
                "timestamp_header": "X-Sig-Ts",
                "id_header": "X-Sig-Id",
                "tolerance_seconds": None,
            },
        },
    ]
    body = b'{"n": 1}'
    ts = "1700000000"
    signature = sign(body, ts)
    async with running_gateway(
        kafka_bootstrap, topic_prefix, triggers, audit={"include_headers": True, "topic": True}
    ) as client:
        with capture_logs() as logs:
            for rid, headers in (
                ("req-relay", {"X-Relay-Key": RELAY_TOKEN}),
                ("req-relay-wrong", {"X-Relay-Key": RELAY_TOKEN + "-guess"}),
            ):
                resp = await client.post(f"/hooks/{relay}", data=body, headers={**headers, "X-Request-Id": rid})
                assert resp.status == (202 if rid == "req-relay" else 401)
            resp = await client.post(
                f"/hooks/{signed}",
                data=body,
                headers={
                    "X-Sig": signature,
                    "X-Sig-Ts": ts,
                    "X-Sig-Id": SIG_ID,
                    "X-Trace": "kept",
                    "X-Request-Id": "req-signed",
                },
            )
            assert resp.status == 202, await resp.text()
    lines = {e["request_id"]: e for e in logs if e.get("event") == "audit"}
    assert set(lines) == {"req-relay", "req-relay-wrong", "req-signed"}
    for rid in ("req-relay", "req-relay-wrong"):
        assert lines[rid]["headers"]["x-relay-key"] == "[redacted]"
    sig_headers = lines["req-signed"]["headers"]
    assert {name: sig_headers[name] for name in ("x-sig", "x-sig-ts", "x-sig-id")} == dict.fromkeys(
        ("x-sig", "x-sig-ts", "x-sig-id"), "[redacted]"
    )
    assert sig_headers["x-trace"] == "kept"  # headers the preset does not read are recorded as sent
    text = repr(logs)
    for secret in (RELAY_TOKEN, signature):
        assert secret not in text

    records = await read_topic(kafka_bootstrap, f"{topic_prefix}._audit", count=3, timeout=20)
    docs = {d["request_id"]: d for d in (orjson.loads(r.value) for r in records)}
    assert set(docs) == {"req-relay", "req-relay-wrong", "req-signed"}
    assert docs["req-relay"]["headers"]["x-relay-key"] == "[redacted]"
    assert docs["req-signed"]["headers"]["x-sig"] == "[redacted]"
    for r in records:
        for secret in (RELAY_TOKEN.encode(), signature.encode()):
            assert secret not in r.value
