"""The webhook chain: each step alone, and the whole chain over an in-memory sink (no server, no broker)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from hookgate.core.envelope import Envelope
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http import steps
from hookgate.gateway.http.steps import Flow, Outcome
from hookgate.gateway.intake.admission import Admission
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.sink import Ack, PublishFailure
from hookgate.gateway.triggers import Trigger, TriggerRegistry
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.sinks import MemorySink
from tests.support.webhooks import PEER, chain, webhook_request

NOWHERE = "127.0.0.1:9"  # a broker address nothing here ever connects to
PUSH = b'{"ref": "refs/heads/main", "action": "opened", "repository": {"full_name": "acme/api"}}'


def config(*triggers: dict[str, Any], **gateway: Any) -> GatewayConfig:
    return gateway_config(NOWHERE, "hg", list(triggers), **gateway)


def signed(body: bytes, delivery: str = "d-1", event: str = "push", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": github_signature(body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        **extra,
    }


def reply_json(response: web.StreamResponse) -> Any:
    assert isinstance(response, web.Response)
    assert response.body is not None
    return orjson.loads(response.body)  # type: ignore[arg-type]


# The chain, end to end over the in-memory sink


async def test_a_signed_webhook_gets_202_and_its_envelope_is_in_the_sink() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid)))
    resp = await gw.send(webhook_request(tid, PUSH, signed(PUSH, "72d3162e")))
    assert resp.status == 202
    assert reply_json(resp) == {"id": "72d3162e"}
    (stored,) = gw.sink.events
    assert (stored.topic, stored.key) == ("hg.acme", b"72d3162e")  # default key: the subject, else the event id
    event = stored.envelope
    assert event.data == PUSH  # byte-exact
    assert (event.id, event.type, event.source) == ("72d3162e", "com.github.push", "/hookgate/gh")
    assert (event.tenant, event.trigger, event.datacontenttype) == ("acme", "gh", "application/json")
    assert gw.counted("accepted", "ok", "2xx") == 1
    (record,) = gw.audited
    assert (record.outcome, record.reason, record.status, record.event_id) == ("accepted", "ok", 202, "72d3162e")
    assert (record.trigger, record.tenant, record.client_ip, record.body_bytes) == ("gh", "acme", PEER, len(PUSH))
    assert resp.headers["X-Request-Id"] == record.request_id


async def test_a_forged_webhook_gets_401_and_nothing_reaches_the_sink() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid)))
    forged = {**signed(PUSH), "X-Hub-Signature-256": github_signature(PUSH, "not the secret")}
    resp = await gw.send(webhook_request(tid, PUSH, forged))
    assert resp.status == 401
    assert reply_json(resp)["error"] == "unauthorized"
    unsigned = await gw.send(webhook_request(tid, PUSH, {"Content-Type": "application/json"}))
    assert unsigned.status == 401
    assert gw.sink.events == []
    assert gw.counted("rejected", "bad_signature", "4xx") == 1
    assert gw.counted("rejected", "missing_signature", "4xx") == 1
    assert [r.reason for r in gw.audited] == ["bad_signature", "missing_signature"]


async def test_a_sink_failure_gets_503_with_retry_after_and_is_counted_as_failed() -> None:
    tid = new_trigger_id()
    sink = MemorySink(failure=PublishFailure("kafka_timeout"))
    gw = chain(config(github_trigger(tid), retry_after_seconds=7), sink)
    resp = await gw.send(webhook_request(tid, PUSH, signed(PUSH, "d-9")))
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "7"
    assert reply_json(resp)["error"] == "unavailable"
    assert sink.events == []
    assert gw.counted("failed", "kafka_timeout", "5xx") == 1
    (record,) = gw.audited
    assert (record.outcome, record.reason, record.event_id) == ("failed", "kafka_timeout", "d-9")


async def test_an_unknown_trigger_gets_the_same_404_as_a_disabled_one() -> None:
    tid, off = new_trigger_id(), new_trigger_id()
    gw = chain(config(github_trigger(tid), github_trigger(off, name="off", enabled=False)))
    unknown = await gw.send(webhook_request(new_trigger_id(), PUSH, signed(PUSH)))
    disabled = await gw.send(webhook_request(off, PUSH, signed(PUSH)))
    assert unknown.status == disabled.status == 404
    assert reply_json(unknown) == reply_json(disabled)
    assert gw.sink.events == []
    assert gw.counted("rejected", "unknown_trigger", "4xx") == 2
    assert [r.trigger for r in gw.audited] == [None, None]


async def test_a_request_beyond_the_in_flight_limit_is_shed_once_its_body_is_read_before_verification() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid), limits={"max_in_flight": 1}))
    admission = gw.handler._admission
    assert admission.in_flight.try_acquire()  # the one slot is taken by a request still in progress
    resp = await gw.send(webhook_request(tid, PUSH, signed(PUSH)))
    admission.in_flight.release()
    assert resp.status == 503
    assert reply_json(resp)["error"] == "overloaded"
    assert gw.sink.events == []
    assert gw.counted("failed", "overloaded", "5xx") == 1
    assert (await gw.send(webhook_request(tid, PUSH, signed(PUSH)))).status == 202


# Each step alone: a flow taken as far as the step before, then the step


def compiled(cfg: GatewayConfig, tid: str) -> Trigger:
    trigger = TriggerRegistry(cfg.triggers, cfg.kafka.topics, cfg.gateway.max_body_bytes).get(tid)
    assert trigger is not None
    return trigger


def routed(cfg: GatewayConfig, request: web.Request, tid: str) -> Flow:
    client = Admission(cfg, GatewayMetrics().registry).client(request)
    flow = steps.route(request, compiled(cfg, tid), client)
    assert isinstance(flow, Flow)
    return flow


async def flow_before(step: str, cfg: GatewayConfig, request: web.Request, tid: str) -> Flow:
    """The flow after every step of the chain before ``step`` went on (none of them replied)."""
    flow = routed(cfg, request, tid)
    order = [
        "check_method",
        "check_size",
        "check_encoding",
        "read_body",
        "decode_body",
        "check_media_type",
        "verify",
        "parse",
        "extract_variables",
        "shape",
        "apply_filter",
        "build_envelope",
        "reply",
    ]
    for name in order[: order.index(step)]:
        result = await steps.read_body(flow) if name == "read_body" else getattr(steps, name)(flow)
        assert result is None, f"{name} replied {result}"
    return flow


async def test_route_refuses_unknown_triggers_and_undeclared_subpaths_alike() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid), github_trigger(open_id := new_trigger_id(), name="paths", allow_subpaths=True))
    request = webhook_request(tid, subpath="/x")
    client = Admission(cfg, GatewayMetrics().registry).client(request)
    unknown = steps.route(request, None, client)
    subpath = steps.route(request, compiled(cfg, tid), client)
    assert isinstance(unknown, Outcome)
    assert isinstance(subpath, Outcome)
    assert (unknown.response.status, unknown.reason) == (404, "unknown_trigger")
    assert (subpath.response.status, subpath.reason) == (404, "unknown_path")
    allowed = steps.route(webhook_request(open_id, subpath="/a/b"), compiled(cfg, open_id), client)
    assert isinstance(allowed, Flow)
    assert allowed.subpath == "/a/b"


async def test_check_method_answers_405_with_allow_but_lets_a_websub_challenge_through() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, methods=["POST", "PUT"], websub={"verify_token": "tok"}))
    get = routed(cfg, webhook_request(tid, method="GET"), tid)
    refused = steps.check_method(get)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (405, "method_not_allowed")
    assert refused.response.headers["Allow"] == "POST, PUT"
    challenge = routed(cfg, webhook_request(tid, method="GET", query="hub.challenge=c-1"), tid)
    assert steps.check_method(challenge) is None
    assert challenge.websub
    put = routed(cfg, webhook_request(tid, method="PUT"), tid)
    assert steps.check_method(put) is None
    assert not put.websub


async def test_admit_refuses_a_client_outside_the_allowlist_with_a_plain_401() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, allow_ips=["192.0.2.0/24"]))
    admission = Admission(cfg, GatewayMetrics().registry)
    outside = routed(cfg, webhook_request(tid, PUSH, peer="203.0.113.9"), tid)
    refused = steps.admit(outside, admission)
    assert refused is not None
    assert (refused.response.status, refused.outcome, refused.reason) == (401, "rejected", "ip_not_allowed")
    assert steps.admit(routed(cfg, webhook_request(tid, PUSH, peer="192.0.2.10"), tid), admission) is None


async def test_answer_websub_echoes_the_challenge_for_the_right_token_only() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, websub={"verify_token": "tok"}))
    query = "hub.mode=subscribe&hub.topic=https://example.com/feed&hub.challenge=c-42"
    right = await flow_before(
        "check_size", cfg, webhook_request(tid, method="GET", query=f"{query}&hub.verify_token=tok"), tid
    )
    answered = steps.answer_websub(right)
    assert answered is not None
    assert (answered.response.status, answered.outcome, answered.reason) == (200, "handshake", "websub")
    assert isinstance(answered.response, web.Response)
    assert answered.response.body == b"c-42"
    wrong = await flow_before(
        "check_size", cfg, webhook_request(tid, method="GET", query=f"{query}&hub.verify_token=no"), tid
    )
    declined = steps.answer_websub(wrong)
    assert declined is not None
    assert (declined.response.status, declined.reason) == (404, "websub_declined")
    post = await flow_before("check_size", cfg, webhook_request(tid, PUSH), tid)
    assert steps.answer_websub(post) is None


async def test_size_is_refused_from_the_declared_length_and_while_reading_a_chunked_body() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, max_body_bytes=16))
    declared = routed(cfg, webhook_request(tid, b"x" * 17), tid)
    too_large = steps.check_size(declared)
    assert too_large is not None
    assert (too_large.response.status, too_large.reason) == (413, "payload_too_large")
    assert not declared.request.content.at_eof()  # refused with the body still unread
    chunked = routed(cfg, webhook_request(tid, b"x" * 17, chunked=True), tid)
    assert steps.check_size(chunked) is None  # no length to go by
    read = await steps.read_body(chunked)
    assert read is not None
    assert (read.response.status, read.reason) == (413, "payload_too_large")
    fits = routed(cfg, webhook_request(tid, b"x" * 16, chunked=True), tid)
    assert await steps.read_body(fits) is None
    assert fits.body == b"x" * 16


async def test_check_media_type_refuses_other_media_with_a_body_only() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid))
    png = await flow_before(
        "check_media_type", cfg, webhook_request(tid, b"\x89PNG", {"Content-Type": "image/png"}), tid
    )
    refused = steps.check_media_type(png)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (415, "unsupported_media_type")
    empty = await flow_before("check_media_type", cfg, webhook_request(tid, b"", {"Content-Type": "image/png"}), tid)
    assert steps.check_media_type(empty) is None
    octets = webhook_request(tid, b"\x00\x01", {"Content-Type": "application/octet-stream"})
    assert steps.check_media_type(await flow_before("check_media_type", cfg, octets, tid)) is None


async def test_verify_keeps_the_verdict_and_refuses_forgeries_with_its_reason() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid))
    good = await flow_before("verify", cfg, webhook_request(tid, PUSH, signed(PUSH, "d-7")), tid)
    assert steps.verify(good) is None
    assert (good.verdict.delivery_id, good.verdict.event_type) == ("d-7", "com.github.push")
    forged = signed(b"other body")
    bad = await flow_before("verify", cfg, webhook_request(tid, PUSH, forged), tid)
    refused = steps.verify(bad)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (401, "bad_signature")


async def test_parse_refuses_an_invalid_body_unless_the_trigger_accepts_raw_ones() -> None:
    tid, raw = new_trigger_id(), new_trigger_id()
    cfg = config(github_trigger(tid), github_trigger(raw, name="raw", accept_raw=True))
    broken = b'{"action": "opened"'
    strict = await flow_before("parse", cfg, webhook_request(tid, broken, signed(broken)), tid)
    refused = steps.parse(strict)
    assert refused is not None
    assert (refused.response.status, refused.reason) == (400, "invalid_body")
    assert reply_json(refused.response)["message"].startswith("The body is not")
    lenient = await flow_before("parse", cfg, webhook_request(raw, broken, signed(broken)), raw)
    assert steps.parse(lenient) is None
    assert lenient.parsed is None
    fine = await flow_before("parse", cfg, webhook_request(tid, PUSH, signed(PUSH)), tid)
    assert steps.parse(fine) is None
    assert fine.parsed is not None
    assert fine.parsed.json["ref"] == "refs/heads/main"


async def test_variables_and_templates_shape_type_subject_and_key() -> None:
    tid = new_trigger_id()
    trigger = github_trigger(
        tid,
        variables={"action": {"jsonpath": "$.action"}, "repo": {"jsonpath": "$.repository.full_name"}},
        event={"type": "com.github.{header.X-GitHub-Event}.{vars.action}", "subject": "{vars.repo}"},
        key="{tenant}/{vars.repo}/{type}",
    )
    cfg = config(trigger)
    flow = await flow_before("extract_variables", cfg, webhook_request(tid, PUSH, signed(PUSH, "d-3")), tid)
    assert steps.extract_variables(flow) is None
    assert flow.variables == {"action": "opened", "repo": "acme/api"}
    assert steps.shape(flow) is None
    assert (flow.event_id, flow.event_type, flow.subject) == ("d-3", "com.github.push.opened", "acme/api")
    assert flow.key == b"acme/acme/api/com.github.push.opened"


async def test_shape_gives_an_event_without_a_delivery_id_a_fresh_id() -> None:
    tid = new_trigger_id()
    cfg = config({"id": tid, "name": "open", "tenant": "acme", "verify": {"type": "none"}})
    ids = set()
    for _ in range(2):
        flow = await flow_before("shape", cfg, webhook_request(tid, b"{}", {"Content-Type": "application/json"}), tid)
        steps.shape(flow)
        ids.add(flow.event_id)
    assert len(ids) == 2
    assert "" not in ids


async def test_apply_filter_answers_200_ignored_and_names_why() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, filter={"types": ["com.github.pull_request"]}))
    push = await flow_before("apply_filter", cfg, webhook_request(tid, PUSH, signed(PUSH, "d-4")), tid)
    ignored = steps.apply_filter(push)
    assert ignored is not None
    assert (ignored.response.status, ignored.outcome, ignored.event_id) == (200, "ignored", "d-4")
    assert reply_json(ignored.response) == {"ignored": True}
    pr = webhook_request(tid, PUSH, signed(PUSH, "d-5", event="pull_request"))
    assert steps.apply_filter(await flow_before("apply_filter", cfg, pr, tid)) is None


async def test_build_envelope_carries_the_body_byte_exact_and_the_variables_as_ce_vars() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, variables={"action": {"jsonpath": "$.action"}}))
    flow = await flow_before("build_envelope", cfg, webhook_request(tid, PUSH, signed(PUSH, "d-6")), tid)
    assert steps.build_envelope(flow) is None
    envelope = flow.envelope
    assert isinstance(envelope, Envelope)
    assert envelope.data == PUSH
    assert envelope.variables == {"action": "opened"}
    assert envelope.time is not None
    headers = dict(envelope.to_headers())
    assert headers["ce_id"] == b"d-6"
    assert headers["content-type"] == b"application/json"


async def test_build_envelope_names_a_typeless_body_octet_stream() -> None:
    tid = new_trigger_id()
    cfg = config({"id": tid, "name": "open", "tenant": "acme", "verify": {"type": "none"}})
    flow = await flow_before("build_envelope", cfg, webhook_request(tid, b"\x00raw"), tid)
    steps.build_envelope(flow)
    assert flow.envelope.datacontenttype == "application/octet-stream"
    empty = await flow_before("build_envelope", cfg, webhook_request(tid), tid)
    steps.build_envelope(empty)
    assert empty.envelope.datacontenttype is None


async def test_reply_gives_the_trigger_reply_on_an_ack_and_503_on_a_failure() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, response={"status": 200, "body": "thanks"}))
    flow = await flow_before("reply", cfg, webhook_request(tid, PUSH, signed(PUSH, "d-8")), tid)
    body_bytes = GatewayMetrics().body_bytes
    accepted = steps.reply(flow, Ack("hg.acme", 0, 41), "5", body_bytes)
    assert (accepted.response.status, accepted.outcome, accepted.reason, accepted.event_id) == (
        200,
        "accepted",
        "ok",
        "d-8",
    )
    assert isinstance(accepted.response, web.Response)
    assert accepted.response.body == b"thanks"
    failed = steps.reply(flow, PublishFailure("overloaded", "produce queue full"), "5", body_bytes)
    assert (failed.response.status, failed.outcome, failed.reason) == (503, "failed", "overloaded")
    assert failed.response.headers["Retry-After"] == "5"


async def test_publish_hands_the_envelope_to_the_sink_under_the_trigger_topic_and_key() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid, key="{tenant}-{trigger}"))
    flow = await flow_before("reply", cfg, webhook_request(tid, PUSH, signed(PUSH)), tid)
    sink = MemorySink()
    result = await steps.publish(flow, sink)
    assert isinstance(result, Ack)
    (stored,) = sink.events
    assert (stored.topic, stored.key, stored.envelope) == ("hg.acme", b"acme-gh", flow.envelope)
