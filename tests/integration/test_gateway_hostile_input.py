"""Hostile input through a real gateway process on loopback (issue 9, items 6-8): every input gets its 4xx,
one audit record and a counted outcome, and the process serves on.

Requests are written as raw bytes on a socket, because clients refuse to send what an attacker sends:
header values that are not UTF-8 (``Authorization: Bearer \\xff``, ``Host: \\xff``), charsets no web
sender means, JSON nested past the depth bound. The broker is the test session's real one.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hookgate.core.envelope import Envelope
from hookgate.gateway.shaping.bodies import MAX_BODY_DEPTH, MAX_FORM_FIELDS
from tests.support.builders import GITHUB_SECRET, github_signature, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka

TOKEN = "relay-token-0123456789"
HMAC_SECRET = "hmac-secret-0123456789"

TRIGGERS: dict[str, dict[str, Any]] = {
    "github": {"verify": {"type": "github", "secrets": [GITHUB_SECRET]}},
    "bearer": {"verify": {"type": "bearer", "tokens": [TOKEN]}},
    "header_token": {"verify": {"type": "header_token", "header": "X-Relay-Key", "tokens": [TOKEN]}},
    "hmac_url": {"verify": {"type": "hmac", "secrets": [HMAC_SECRET], "header": "X-Sig", "template": "{url}{body}"}},
    "gitlab": {"verify": {"type": "gitlab", "tokens": [TOKEN]}},
    # unsigned, every body parsed and validated, with the JSONPath descent the depth bound protects
    "open": {"verify": {"type": "none"}, "validate_body": True, "variables": {"id": {"jsonpath": "$..id"}}},
}


@dataclass(frozen=True)
class Hostile:
    """One hostile request and what the gateway must answer."""

    name: str
    trigger: str
    headers: bytes = b""  # extra raw header lines, each ending in CRLF
    body: bytes = b"{}"
    content_type: bytes = b"application/json"
    host: bytes = b"127.0.0.1"
    status: int = 401
    error: str = "unauthorized"
    reason: str = "bad_token"
    message: str | None = None  # the reply's message, where it says what was wrong


def deep_json(depth: int) -> bytes:
    return b'{"id":' * depth + b"1" + b"}" * depth


MULTIPART_FIELD = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="title"\r\n'
    b"Content-Type: text/plain; charset=%s\r\n\r\n"
    b"abc\r\n"
    b"--XyZ--\r\n"
)


def invalid_body(name: str, body: bytes, content_type: bytes, message: str | None = None) -> Hostile:
    return Hostile(
        name,
        "open",
        body=body,
        content_type=content_type,
        status=400,
        error="invalid_body",
        reason="invalid_body",
        message=message,
    )


CASES = [
    # item 6: credentials that are not UTF-8, before any secret is compared
    Hostile("github_signature", "github", b"X-Hub-Signature-256: sha256=\xff\xfe\r\n", reason="malformed_signature"),
    Hostile(
        "github_signature_hex_then_byte",
        "github",
        b"X-Hub-Signature-256: " + github_signature(b"{}").encode()[:-1] + b"\xff\r\n",
        reason="malformed_signature",
    ),
    Hostile("bearer", "bearer", b"Authorization: Bearer \xff\r\n"),
    Hostile("bearer_token_then_byte", "bearer", b"Authorization: Bearer " + TOKEN.encode() + b"\xc3\r\n"),
    Hostile("header_token", "header_token", b"X-Relay-Key: \xff\xfe\r\n"),
    Hostile("gitlab", "gitlab", b"X-Gitlab-Token: " + TOKEN.encode()[:-1] + b"\xe9\r\n"),
    Hostile("hmac_url_host", "hmac_url", b"X-Sig: " + b"00" * 32 + b"\r\n", host=b"\xff", reason="bad_signature"),
    Hostile("hmac_url_host_bracket", "hmac_url", b"X-Sig: " + b"00" * 32 + b"\r\n", host=b"[", reason="bad_signature"),
    # item 7: charsets no web sender means, on JSON, text, XML and multipart parts; depth past the bound
    *(
        invalid_body(
            f"{kind}_{charset}",
            body,
            essence + b"; charset=" + charset.encode(),
            f"The declared charset '{charset}' is not known.",
        )
        for charset in ("punycode", "undefined")
        for kind, essence, body in [
            ("json", b"application/json", b'{"id": 1}'),
            ("text", b"text/plain", b"hello"),
            ("xml", b"application/xml", b"<a>1</a>"),
            ("multipart", b"multipart/form-data; boundary=XyZ", MULTIPART_FIELD % b"utf-8"),
        ]
    ),
    invalid_body("xml_python_only_codec", b"<a>1</a>", b"text/xml; charset=rot13"),
    invalid_body("xml_unknown_codec", b"<a>1</a>", b"application/xml; charset=x-nope"),
    invalid_body("xml_declaration_utf7", b'<?xml version="1.0" encoding="utf-7"?><a/>', b"application/xml"),
    invalid_body(
        "multipart_part_punycode",
        MULTIPART_FIELD % b"punycode",
        b"multipart/form-data; boundary=XyZ",
        "A multipart field declares an unknown charset 'punycode'.",
    ),
    invalid_body(
        "multipart_part_undefined",
        MULTIPART_FIELD % b"undefined",
        b"multipart/form-data; boundary=XyZ",
        "A multipart field declares an unknown charset 'undefined'.",
    ),
    invalid_body("json_one_past_the_depth_bound", deep_json(MAX_BODY_DEPTH + 1), b"application/json"),
    invalid_body("json_255_deep", b"[" * 255 + b"]" * 255, b"application/json"),
    # item 8: a form in a bad charset says so (it used to say "more than 1000 fields")
    *(
        invalid_body(
            f"form_{charset}",
            b"a=1&b=2",
            b"application/x-www-form-urlencoded; charset=" + charset.encode(),
            f"The declared charset '{charset}' is not known.",
        )
        for charset in ("punycode", "undefined", "rot13")
    ),
    invalid_body(
        "form_field_not_utf8",
        b"a=%FF",
        b"application/x-www-form-urlencoded",
        "A form field is not valid utf-8 text (byte 0).",
    ),
    invalid_body(
        "form_too_many_fields",
        b"&".join(b"f=1" for _ in range(MAX_FORM_FIELDS + 1)),
        b"application/x-www-form-urlencoded",
        f"The form has more than {MAX_FORM_FIELDS} fields.",
    ),
]


@pytest.fixture(scope="module")
def trigger_ids() -> dict[str, str]:
    return {name: new_trigger_id() for name in TRIGGERS}


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, trigger_ids: dict[str, str]
) -> Iterator[tuple[Service, str]]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    port = free_port()
    config = {
        "gateway": {"listen": {"host": "127.0.0.1", "port": port}},
        "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": prefix, "partitions": 1}},
        "triggers": [
            {"id": trigger_ids[name], "name": name, "tenant": "acme", **spec} for name, spec in TRIGGERS.items()
        ],
    }
    service = start_service("gateway", config, tmp_path_factory.mktemp("hostile"), port)
    try:
        service.wait_ready()
        yield service, prefix
    finally:
        code = service.stop()
        assert code == 0, service.logs()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


async def send_raw(port: int, request: bytes) -> Reply:
    """Write ``request`` as it is and read the reply to the end (the request says Connection: close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return Reply(int(head.split(b" ", 2)[1]), body)


def raw_request(case: Hostile, trigger_id: str, request_id: str) -> bytes:
    return (
        b"POST /hooks/" + trigger_id.encode() + b" HTTP/1.1\r\n"
        b"Host: " + case.host + b"\r\n"
        b"Connection: close\r\n"
        b"X-Request-Id: " + request_id.encode() + b"\r\n"
        b"Content-Type: " + case.content_type + b"\r\n"
        b"Content-Length: " + str(len(case.body)).encode() + b"\r\n" + case.headers + b"\r\n" + case.body
    )


def audit_records(service: Service) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in service.logs().splitlines() if line.startswith("{")]
    return {line["request_id"]: line for line in lines if line.get("event") == "audit"}


def counted(metrics: str) -> Counter[tuple[str, str, str]]:
    """``hookgate_gateway_requests_total`` by (outcome, reason, status class)."""
    out: Counter[tuple[str, str, str]] = Counter()
    pattern = r'^hookgate_gateway_requests_total\{outcome="([^"]*)",reason="([^"]*)",status_class="([^"]*)"\} (\S+)$'
    for outcome, reason, status_class, value in re.findall(pattern, metrics, re.MULTILINE):
        out[(outcome, reason, status_class)] += int(float(value))
    return out


async def metrics_of(service: Service) -> Counter[tuple[str, str, str]]:
    reply = await send_raw(service.port, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert reply.status == 200
    return counted(reply.body.decode())


async def test_every_hostile_input_gets_its_4xx_an_audit_record_and_a_count(
    gateway: tuple[Service, str], trigger_ids: dict[str, str]
) -> None:
    service, _ = gateway
    before = await metrics_of(service)
    for i, case in enumerate(CASES):
        reply = await send_raw(service.port, raw_request(case, trigger_ids[case.trigger], f"hostile-{i}"))
        assert reply.status == case.status, (case.name, reply)
        answer = json.loads(reply.body)
        assert answer["error"] == case.error, case.name
        if case.message is not None:
            assert answer["message"] == case.message, case.name
    # Every request is still served: the process took none of them down.
    assert (
        await send_raw(service.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ).status == 200

    after = await metrics_of(service)
    expected = Counter(("rejected", case.reason, f"{case.status // 100}xx") for case in CASES)
    assert {key: after[key] - before[key] for key in expected} == dict(expected)
    assert sum(n for key, n in after.items() if key[2] == "5xx") == sum(
        n for key, n in before.items() if key[2] == "5xx"
    )

    records = audit_records(service)
    for i, case in enumerate(CASES):
        record = records.get(f"hostile-{i}")
        assert record is not None, f"{case.name}: no audit record"
        assert (record["status"], record["outcome"], record["reason"], record["trigger"]) == (
            case.status,
            "rejected",
            case.reason,
            case.trigger,
        ), case.name
    assert "Traceback" not in service.logs()


async def test_a_verified_senders_non_utf8_delivery_id_is_stored_as_valid_text(
    gateway: tuple[Service, str], trigger_ids: dict[str, str], kafka_bootstrap: str
) -> None:
    # The signature is genuine, so the gateway gets past it and reads the delivery id and event name.
    service, prefix = gateway
    body = b'{"action": "opened"}'
    signed = Hostile(
        "signed",
        "github",
        b"X-Hub-Signature-256: " + github_signature(body).encode() + b"\r\n"
        b"X-GitHub-Delivery: d-\xff\xfe\r\n"
        b"X-GitHub-Event: pu\xe9sh\r\n",
        body=body,
    )
    reply = await send_raw(service.port, raw_request(signed, trigger_ids["github"], "hostile-signed"))
    assert reply.status == 202, reply
    assert json.loads(reply.body) == {"id": "d-\ufffd\ufffd"}
    records = await read_topic(kafka_bootstrap, f"{prefix}.acme", count=2, timeout=10)
    (event,) = [Envelope.from_record(r.headers, r.value) for r in records]
    assert (event.id, event.type, event.data) == ("d-\ufffd\ufffd", "com.github.pu_sh", body)
    assert audit_records(service)["hostile-signed"]["event_id"] == "d-\ufffd\ufffd"
