"""Bodies through the gateway into a real broker: invalid ones are refused and never produced, valid
ones of every kind arrive byte-exact."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hookgate.core.envelope import Envelope
from tests.support.builders import github_signature, github_trigger, new_trigger_id, read_all, read_topic
from tests.support.gateway import running_gateway
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka


def open_trigger(tid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "name": name, "tenant": "acme", "verify": {"type": "none"}, **extra}


async def values_in(bootstrap: str, topic: str) -> list[bytes]:
    """Every record value in ``topic``; call it after the gateway stopped, so that nothing more can come."""
    return [r.value for r in await read_all(bootstrap, topic)]


async def test_invalid_bodies_get_400_and_are_never_produced(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    async with running_gateway(kafka_bootstrap, topic_prefix, [open_trigger(tid, "open")]) as client:
        for body, content_type in [
            (b'{"action": "opened"', "application/json"),
            (b'{"name": "caf\xe9"}', "application/json"),
            (b"<a><b></a>", "application/xml"),
        ]:
            resp = await client.post(f"/hooks/{tid}", data=body, headers={"Content-Type": content_type})
            assert resp.status == 400, body
            reply = await resp.json()
            assert reply["error"] == "invalid_body"
            assert reply["message"].startswith("The body is not")
        ok = await client.post(f"/hooks/{tid}", data=b'{"ok": true}', headers={"Content-Type": "application/json"})
        assert ok.status == 202
        metrics = await (await client.get("/metrics")).text()
    assert await values_in(kafka_bootstrap, f"{topic_prefix}.acme") == [b'{"ok": true}']
    assert 'hookgate_gateway_requests_total{outcome="rejected",reason="invalid_body",status_class="4xx"} 3.0' in metrics


async def test_bodies_are_checked_only_after_verification(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    async with running_gateway(kafka_bootstrap, topic_prefix, [github_trigger(tid)]) as client:
        body = b"{not json"
        unsigned = await client.post(f"/hooks/{tid}", data=body, headers={"Content-Type": "application/json"})
        assert unsigned.status == 401
        signed = await client.post(
            f"/hooks/{tid}",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": github_signature(body)},
        )
        assert signed.status == 400


async def test_xxe_and_billion_laughs_get_400_and_nothing_is_fetched(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    async with (
        run_receiver() as outside,
        running_gateway(kafka_bootstrap, topic_prefix, [open_trigger(tid, "xml")]) as client,
    ):
        attacks = [
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{outside.url}/entity">]><r>&x;</r>',
            f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{outside.url}/dtd"><r/>',
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{outside.url}/param"> %p;]><r/>',
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
            '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;&c;&c;&c;&c;&c;&c;&c;</l>',
        ]
        for attack in attacks:
            resp = await client.post(f"/hooks/{tid}", data=attack.encode(), headers={"Content-Type": "application/xml"})
            assert resp.status == 400, attack
            assert (await resp.json())["error"] == "invalid_body"
        good = b'<?xml version="1.0"?><r id="1"/>'
        assert (await client.post(f"/hooks/{tid}", data=good, headers={"Content-Type": "text/xml"})).status == 202
        assert outside.received == []
    assert await values_in(kafka_bootstrap, f"{topic_prefix}.acme") == [good]


async def test_every_body_kind_arrives_byte_exact(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    slack = (
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D"
        b"&token=x&trigger_id=1.2.3"
    )
    multipart = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="title"\r\n\r\n'
        b"caf\xc3\xa9\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="x.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"\x00\xff\r\n"
        b"--b0undary--\r\n"
    )
    cases = [
        (b'{"z": 1,  "a": [1.0, "\\u00e9"]}', "application/json"),
        ("<?xml version='1.0' encoding='ISO-8859-1'?><a>café</a>".encode("latin-1"), "application/xml"),
        (slack, "application/x-www-form-urlencoded"),
        (multipart, "multipart/form-data; boundary=b0undary"),
        ("naïve".encode("cp1252"), "text/plain; charset=windows-1252"),
        (bytes(range(256)), "application/octet-stream"),
    ]
    variables = {"kind": {"jsonpath": "$.type", "default": "none"}, "title": {"form": "title"}}
    async with running_gateway(
        kafka_bootstrap, topic_prefix, [open_trigger(tid, "all", variables=variables)]
    ) as client:
        for body, content_type in cases:
            resp = await client.post(f"/hooks/{tid}", data=body, headers={"Content-Type": content_type})
            assert resp.status == 202, content_type
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=len(cases), timeout=20)
    events = [Envelope.from_record(r.headers, r.value) for r in records]
    got = {e.datacontenttype: (e.data, e.variables) for e in events}
    assert got == {
        "application/json": (cases[0][0], {"kind": "none"}),
        "application/xml": (cases[1][0], {"kind": "none"}),
        "application/x-www-form-urlencoded": (slack, {"kind": "block_actions"}),
        "multipart/form-data; boundary=b0undary": (multipart, {"kind": "none", "title": "café"}),
        "text/plain; charset=windows-1252": (cases[4][0], {"kind": "none"}),
        "application/octet-stream": (cases[5][0], {"kind": "none"}),
    }


async def test_accept_raw_passes_invalid_bodies_through(kafka_bootstrap: str, topic_prefix: str) -> None:
    tid = new_trigger_id()
    trigger = open_trigger(
        tid,
        "raw",
        accept_raw=True,
        variables={"action": {"jsonpath": "$.action", "default": "unparsed"}, "event": {"header": "X-Event"}},
    )
    marker = uuid.uuid4().hex.encode()
    broken = b'{"action": "opened", ' + marker
    valid = b'{"action": "closed"}'
    async with running_gateway(kafka_bootstrap, topic_prefix, [trigger]) as client:
        for body in (broken, valid):
            resp = await client.post(
                f"/hooks/{tid}", data=body, headers={"Content-Type": "application/json", "X-Event": "e"}
            )
            assert resp.status == 202
    records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=2)
    by_value = {r.value: Envelope.from_record(r.headers, r.value).variables for r in records}
    assert by_value == {
        broken: {"action": "unparsed", "event": "e"},
        valid: {"action": "closed", "event": "e"},
    }
