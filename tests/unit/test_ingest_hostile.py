"""The chain against compressed bodies and forgeries, over an in-memory sink (no server, no broker).

Compressed bodies: refused (415) unless the trigger opted in, decoded within bounds when it did, the
decoded body verified (or the bytes as received, when configured) and stored. Forgeries: they spend
their own address's failure bucket, never the trigger's rate limit.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import orjson
import pytest
from aiohttp import web

from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http import steps
from hookgate.gateway.http.steps import Flow
from hookgate.gateway.intake.admission import Admission
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.triggers import TriggerRegistry
from tests.support.bombs import zeros_gzip
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.webhooks import chain, webhook_request

PUSH = b'{"ref": "refs/heads/main", "action": "opened", "repository": {"full_name": "acme/api"}}'
FORGER, SENDER = "203.0.113.66", "198.51.100.7"


def config(*triggers: dict[str, Any], **gateway: Any) -> GatewayConfig:
    return gateway_config("127.0.0.1:9", "hg", list(triggers), **gateway)


def signed(signed_bytes: bytes, delivery: str = "d-1", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(signed_bytes),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        **extra,
    }


def error_of(response: web.StreamResponse) -> str:
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    error: str = orjson.loads(response.body)["error"]
    return error


def gz(delivery: str = "d-1", body: bytes = PUSH, **extra: str) -> tuple[bytes, dict[str, str]]:
    """``body`` gzipped, signed over the decoded bytes as GitHub signs, with ``Content-Encoding: gzip``."""
    return gzip.compress(body), signed(body, delivery, **{"Content-Encoding": "gzip", **extra})


# Compressed bodies


async def test_an_encoded_body_on_a_trigger_that_did_not_opt_in_is_415_before_it_is_read() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid))
    trigger = TriggerRegistry(cfg.triggers, cfg.kafka.topics, cfg.gateway.max_body_bytes).get(tid)
    assert trigger is not None
    body, headers = gz()
    request = webhook_request(tid, body, headers)
    flow = steps.route(request, trigger, Admission(cfg, GatewayMetrics().registry).client(request))
    assert isinstance(flow, Flow)
    refused = steps.check_encoding(flow)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (415, "unsupported_content_encoding")
    assert error_of(refused.response) == "unsupported_content_encoding"
    assert refused.response.headers["Accept-Encoding"] == "identity"
    assert not request.content.at_eof()  # nothing was read, let alone decompressed
    plain = webhook_request(tid, PUSH, {**signed(PUSH), "Content-Encoding": "identity"})
    flow = steps.route(plain, trigger, Admission(cfg, GatewayMetrics().registry).client(plain))
    assert isinstance(flow, Flow)
    assert steps.check_encoding(flow) is None
    assert flow.coding is None


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, gzip", "deflate"])
async def test_unknown_stacked_or_unlisted_codings_are_415_on_an_opted_in_trigger(encoding: str) -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid, decompress={"encodings": ["gzip"]})))
    body = gzip.compress(PUSH)
    resp = await gw.send(webhook_request(tid, body, signed(PUSH, **{"Content-Encoding": encoding})))
    assert resp.status == 415
    assert error_of(resp) == "unsupported_content_encoding"
    assert resp.headers["Accept-Encoding"] == "gzip"
    assert gw.counted("rejected", "unsupported_content_encoding", "4xx") == 1
    assert gw.sink.events == []


async def test_a_gzip_body_is_verified_and_stored_decoded() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid, decompress={"encodings": ["gzip"]})))
    body, headers = gz("gz-1")
    resp = await gw.send(webhook_request(tid, body, headers))
    assert resp.status == 202
    (stored,) = gw.sink.events
    assert stored.envelope.data == PUSH  # the decoded bytes, which are also what the signature covers
    assert stored.envelope.datacontenttype == "application/json"
    (record,) = gw.audited
    assert record.body_bytes == len(body)  # the audit record counts the bytes received
    # A signature over the compressed bytes does not verify such a trigger.
    wire = gzip.compress(PUSH)
    resp = await gw.send(webhook_request(tid, wire, signed(wire, "gz-2", **{"Content-Encoding": "gzip"})))
    assert resp.status == 401


async def test_a_trigger_can_verify_the_encoded_bytes_and_still_stores_the_decoded_body() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid, decompress={"encodings": ["deflate"], "verify": "encoded"})))
    wire = zlib.compress(PUSH)
    resp = await gw.send(webhook_request(tid, wire, signed(wire, "enc-1", **{"Content-Encoding": "deflate"})))
    assert resp.status == 202
    assert [e.envelope.data for e in gw.sink.events] == [PUSH]
    resp = await gw.send(webhook_request(tid, wire, signed(PUSH, "enc-2", **{"Content-Encoding": "deflate"})))
    assert resp.status == 401


async def test_variables_read_the_decoded_body() -> None:
    tid = new_trigger_id()
    trigger = github_trigger(tid, decompress={}, variables={"action": {"jsonpath": "$.action"}})
    gw = chain(config(trigger))
    body, headers = gz("vars-1")
    assert (await gw.send(webhook_request(tid, body, headers))).status == 202
    assert gw.sink.events[0].envelope.variables == {"action": "opened"}


async def test_corrupt_and_truncated_streams_are_400_and_a_bomb_is_413() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid, max_body_bytes=2_000_000, decompress={"max_ratio": 100_000})))
    cases = {
        "corrupt": (b"\x1f\x8b\x08\x00garbage", "gzip"),
        "truncated": (gzip.compress(PUSH)[:-6], "gzip"),
        "deflate": (b"\x78\x9c\xff\xff", "deflate"),
    }
    for name, (body, coding) in cases.items():
        resp = await gw.send(webhook_request(tid, body, signed(PUSH, name, **{"Content-Encoding": coding})))
        assert (resp.status, error_of(resp)) == (400, "invalid_body"), name
    bomb = zeros_gzip(1024)
    resp = await gw.send(webhook_request(tid, bomb, signed(b"", "bomb", **{"Content-Encoding": "gzip"})))
    assert (resp.status, error_of(resp)) == (413, "payload_too_large")
    assert gw.counted("rejected", "invalid_body", "4xx") == 3
    assert gw.counted("rejected", "decoded_too_large", "4xx") == 1
    assert [r.reason for r in gw.audited] == ["invalid_body"] * 3 + ["decoded_too_large"]
    assert gw.sink.events == []


async def test_an_empty_body_with_a_content_encoding_is_empty() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid, decompress={})))
    resp = await gw.send(webhook_request(tid, b"", signed(b"", "empty", **{"Content-Encoding": "gzip"})))
    assert resp.status == 202
    assert gw.sink.events[0].envelope.data == b""


# Forgeries


async def test_forgeries_spend_their_own_address_bucket_not_the_trigger_rate_limit() -> None:
    tid = new_trigger_id()
    gw = chain(
        config(
            github_trigger(tid, rate_limit={"per_second": 0.001, "burst": 2}),
            limits={"auth_failures": {"per_second": 0.001, "burst": 3}},
        )
    )
    forged = signed(b"not the body")
    statuses = [(await gw.send(webhook_request(tid, PUSH, forged, peer=FORGER))).status for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    # The sender, from its own address, still has its whole rate limit.
    sent = [(await gw.send(webhook_request(tid, PUSH, signed(PUSH, f"ok-{i}"), peer=SENDER))).status for i in range(3)]
    assert sent == [202, 202, 429]
    assert [e.envelope.id for e in gw.sink.events] == ["ok-0", "ok-1"]
    assert gw.counted("rejected", "bad_signature", "4xx") == 3
    assert gw.counted("rejected", "auth_failures_rate_limited", "4xx") == 3
    assert gw.counted("rejected", "trigger_rate_limited", "4xx") == 1
    reasons = [(r.client_ip, r.reason) for r in gw.audited]
    assert reasons[3:6] == [(FORGER, "auth_failures_rate_limited")] * 3
    assert reasons[-1] == (SENDER, "trigger_rate_limited")
    assert gw.metrics.registry.get_sample_value("hookgate_gateway_auth_failure_buckets") == 1.0
    # The forger's refusal is the reply every rate limit gives: it does not say which bucket.
    refused = await gw.send(webhook_request(tid, PUSH, signed(PUSH, "late"), peer=FORGER))
    assert (refused.status, error_of(refused)) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1


async def test_allowlist_refusals_spend_the_bucket_and_null_turns_it_off() -> None:
    tid = new_trigger_id()
    trigger = github_trigger(tid, allow_ips=["192.0.2.0/24"])
    limited = chain(config(trigger, limits={"auth_failures": {"burst": 2}}))
    statuses = [(await limited.send(webhook_request(tid, PUSH, signed(PUSH), peer=FORGER))).status for _ in range(3)]
    assert statuses == [401, 401, 429]
    unlimited = chain(config(trigger, limits={"auth_failures": None}))
    statuses = [(await unlimited.send(webhook_request(tid, PUSH, signed(PUSH), peer=FORGER))).status for _ in range(25)]
    assert set(statuses) == {401}


async def test_the_refusal_series_exists_before_any_refusal() -> None:
    gw = chain(config(github_trigger(new_trigger_id())))
    registry = gw.metrics.registry
    labels = {"outcome": "rejected", "reason": "auth_failures_rate_limited", "status_class": "4xx"}
    assert registry.get_sample_value("hookgate_gateway_requests_total", labels) == 0.0


async def test_admit_refuses_an_address_out_of_failures_before_its_body_is_read() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid), limits={"auth_failures": {"per_second": 0.001, "burst": 2}})
    admission = Admission(cfg, GatewayMetrics().registry)
    trigger = TriggerRegistry(cfg.triggers, cfg.kafka.topics, cfg.gateway.max_body_bytes).get(tid)
    assert trigger is not None

    def flow_from(peer: str) -> Flow:
        request = webhook_request(tid, PUSH, signed(PUSH), peer=peer)
        flow = steps.route(request, trigger, admission.client(request))
        assert isinstance(flow, Flow)
        return flow

    for _ in range(2):
        admission.failed_authentication("gh", flow_from(FORGER).client)
    forger = flow_from(FORGER)
    refused = steps.admit(forger, admission)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (429, "auth_failures_rate_limited")
    assert not forger.request.content.at_eof()  # refused with the body unread
    assert steps.admit(flow_from(SENDER), admission) is None
