"""Slow and greedy clients, without a server: the body deadline and minimum rate, the concurrency budgets
(per client, reading bodies, in flight), and authentication from the head before the body is read."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import orjson
import pytest
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http import steps
from hookgate.gateway.http.steps import Flow
from hookgate.gateway.intake.admission import Admission
from hookgate.gateway.intake.concurrency import Budgets, PerClientLimiter, client_key
from hookgate.gateway.intake.deadlines import (
    BODY_TIMEOUT,
    BODY_TOO_SLOW,
    BodyDeadline,
    BodyTiming,
    BodyTooSlow,
    timed_chunks,
)
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.triggers import TriggerRegistry
from hookgate.gateway.verify.base import WebhookRequest, head_verdict
from hookgate.gateway.verify.senders import GitHubConfig
from hookgate.gateway.verify.tokens import BasicConfig, BearerConfig, GitLabConfig, HeaderTokenConfig, QueryTokenConfig
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id
from tests.support.webhooks import chain, webhook_request

NOWHERE = "127.0.0.1:9"
PUSH = b'{"ref": "refs/heads/main"}'
QUICK = BodyTiming(timeout=0.3, min_rate=0.0, grace=0.0)  # short enough for a unit test to wait it out


def config(*triggers: dict[str, Any], **gateway: Any) -> GatewayConfig:
    return gateway_config(NOWHERE, "hg", list(triggers), **gateway)


def signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": github_signature(body), "X-GitHub-Delivery": "d"}


def bearer_trigger(tid: str) -> dict[str, Any]:
    return {"id": tid, "name": "tok", "tenant": "acme", "verify": {"type": "bearer", "tokens": ["t0k"]}}


def open_request(tid: str, first: bytes, length: int, headers: dict[str, str] | None = None) -> web.Request:
    """A request whose head declared ``length`` bytes and whose body so far is ``first`` (more may be fed)."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("203.0.113.5", 1) if key == "peername" else default
    )
    payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    if first:
        payload.feed_data(first)
    hdrs = {"Host": "gateway.test", "Content-Length": str(length), **(headers or {})}
    return make_mocked_request(
        "POST", f"/hooks/{tid}", headers=hdrs, payload=payload, match_info={"trigger_id": tid}, transport=transport
    )


def flow_for(cfg: GatewayConfig, request: web.Request, tid: str) -> Flow:
    trigger = TriggerRegistry(cfg.triggers, cfg.kafka.topics, cfg.gateway.max_body_bytes).get(tid)
    client = Admission(cfg, GatewayMetrics().registry).client(request)
    flow = steps.route(request, trigger, client)
    assert isinstance(flow, Flow)
    return flow


def error_of(response: web.StreamResponse) -> str:
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    return str(orjson.loads(response.body)["error"])


# The body deadline and the minimum rate: the arithmetic


def test_a_body_is_cut_at_its_deadline_whatever_its_rate() -> None:
    deadline = BodyDeadline(BodyTiming(timeout=10, min_rate=0, grace=0), start=100.0)
    assert deadline.violation(0, 109.9) is None
    assert deadline.violation(10**9, 110.0) == BODY_TIMEOUT
    assert deadline.wait(0, 104.0) == pytest.approx(6.0)


def test_below_the_minimum_rate_after_the_grace_period_a_body_is_too_slow() -> None:
    deadline = BodyDeadline(BodyTiming(timeout=10, min_rate=1000, grace=2), start=0.0)
    assert deadline.violation(0, 1.9) is None  # in the grace period any rate goes
    assert deadline.violation(1999, 2.0) == BODY_TOO_SLOW
    assert deadline.violation(2000, 2.0) is None
    assert deadline.violation(4000, 3.9) is None
    # Without more bytes, 4000 bytes keep the average at 1000 B/s until t=4: the reader may wait that long.
    assert deadline.wait(4000, 3.0) == pytest.approx(1.0)
    assert deadline.wait(0, 0.5) == pytest.approx(1.5)  # nothing yet: until the grace period ends
    assert deadline.wait(10**6, 5.0) == pytest.approx(5.0)  # fast enough: until the deadline


def test_a_zero_minimum_rate_switches_the_rate_check_off() -> None:
    deadline = BodyDeadline(BodyTiming(timeout=10, min_rate=0, grace=0), start=0.0)
    assert deadline.violation(0, 9.0) is None
    assert deadline.wait(0, 9.0) == pytest.approx(1.0)


# The body deadline applied to a body stream


async def test_a_body_already_received_is_read_without_waiting() -> None:
    payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b"a" * 10)
    payload.feed_data(b"b" * 10)
    payload.feed_eof()
    stopped = BodyTiming(timeout=1e-9, min_rate=0, grace=0)  # any wait at all would be cut
    assert b"".join([c async for c in timed_chunks(payload, stopped, 8)]) == b"a" * 10 + b"b" * 10


@pytest.mark.parametrize(
    ("timing", "reason"),
    [(QUICK, BODY_TIMEOUT), (BodyTiming(timeout=30, min_rate=10**6, grace=0.2), BODY_TOO_SLOW)],
)
async def test_a_body_that_stops_arriving_is_cut_with_the_reason(timing: BodyTiming, reason: str) -> None:
    payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b"x")
    got: list[bytes] = []

    async def read() -> None:
        async with asyncio.timeout(10):  # a generous bound: the cut comes after 0.2-0.3 s
            async for chunk in timed_chunks(payload, timing, 1024):
                got.append(chunk)

    with pytest.raises(BodyTooSlow) as cut:
        await read()
    assert cut.value.reason == reason
    assert got == [b"x"]


async def test_bytes_that_arrive_in_time_are_waited_for() -> None:
    payload = streams.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, payload.feed_data, b"late")
    loop.call_later(0.06, payload.feed_eof)
    timing = BodyTiming(timeout=30, min_rate=0, grace=0)
    assert [c async for c in timed_chunks(payload, timing, 1024)] == [b"late"]


# The concurrency budgets


def test_clients_are_counted_by_address_and_ipv6_clients_by_their_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("") == ""


def test_the_per_client_table_holds_only_clients_with_a_request_in_progress() -> None:
    limiter = PerClientLimiter(2)
    assert limiter.try_acquire("a")
    assert limiter.try_acquire("a")
    assert not limiter.try_acquire("a")
    assert limiter.try_acquire("b")
    limiter.release("a")
    assert limiter.try_acquire("a")
    for key in ("a", "a", "b"):
        limiter.release(key)
    assert len(limiter) == 0
    unlimited = PerClientLimiter(None)
    assert all(unlimited.try_acquire("a") for _ in range(1000))


def test_a_ticket_moves_from_reading_to_in_flight_and_gives_everything_back_once() -> None:
    budgets = Budgets(max_in_flight=1, max_reading=1, max_per_client=1)
    ticket = budgets.enter("192.0.2.1")
    assert ticket is not None
    assert budgets.enter("192.0.2.1") is None  # the client's one place is taken
    other = budgets.enter("192.0.2.2")
    assert other is not None
    assert ticket.start_reading()
    assert not other.start_reading()  # the one reading place is taken
    assert ticket.start_handling()  # leaves its reading place...
    assert other.start_reading()  # ...which the other may now take
    assert not other.start_handling()  # but the one in-flight place is taken
    ticket.release()
    ticket.release()  # twice gives back nothing more
    assert budgets.in_flight.in_flight == 0
    assert budgets.reading.in_flight == 0  # other's reading place went back when it tried to handle
    assert other.start_handling()
    other.release()
    assert (budgets.in_flight.in_flight, budgets.reading.in_flight, len(budgets.clients)) == (0, 0, 0)


# Authentication from the head


def head(headers: dict[str, str], query: str = "") -> WebhookRequest:
    from multidict import CIMultiDict, MultiDict, MultiDictProxy

    params = MultiDict(p.split("=", 1) for p in query.split("&") if p)
    return WebhookRequest("POST", "https://h/x", CIMultiDict(headers), b"", MultiDictProxy(params))


def test_token_presets_judge_the_head_alone() -> None:
    cases = [
        (BearerConfig(type="bearer", tokens=["t0k"]), {"Authorization": "Bearer t0k"}, ""),
        (HeaderTokenConfig(type="header_token", header="X-Key", tokens=["t0k"]), {"X-Key": "t0k"}, ""),
        (QueryTokenConfig(type="query_token", tokens=["t0k"]), {}, "token=t0k"),
        (GitLabConfig(type="gitlab", tokens=["t0k"]), {"X-Gitlab-Token": "t0k"}, ""),
        (
            BasicConfig(type="basic", credentials=[{"username": "u", "password": "p"}]),  # type: ignore[list-item]
            {"Authorization": "Basic dTpw"},
            "",
        ),
    ]
    for preset, good, query in cases:
        verifier = preset.build()
        ok = head_verdict(verifier, head(good, query))
        assert ok is not None, preset.type
        assert ok.ok, preset.type
        refused = head_verdict(verifier, head({}))
        assert refused is not None, preset.type
        assert not refused.ok, preset.type
        assert refused.reason == "missing_token"


def test_signature_presets_need_the_body_and_give_no_head_verdict() -> None:
    github = GitHubConfig(type="github", secrets=["s"]).build()
    assert head_verdict(github, head({"X-Hub-Signature-256": "sha256=00"})) is None


async def test_an_unauthenticated_request_for_a_token_trigger_is_refused_before_its_body() -> None:
    tid = new_trigger_id()
    cfg = config(bearer_trigger(tid))
    flow = flow_for(cfg, open_request(tid, b"", 1_000_000), tid)
    refused = steps.authenticate_head(flow)
    assert refused is not None
    assert (refused.response.status, refused.outcome, refused.reason) == (401, "rejected", "missing_token")
    assert not flow.request.content.is_eof()  # not a byte of the body was waited for
    good = flow_for(cfg, open_request(tid, b"", 10, {"Authorization": "Bearer t0k"}), tid)
    assert steps.authenticate_head(good) is None


async def test_a_signature_trigger_goes_on_to_read_its_body() -> None:
    tid = new_trigger_id()
    flow = flow_for(config(github_trigger(tid)), open_request(tid, b"", 10), tid)
    assert steps.authenticate_head(flow) is None


# The steps and the handler


async def test_read_body_answers_408_and_asks_for_the_connection_to_close() -> None:
    tid = new_trigger_id()
    flow = flow_for(config(github_trigger(tid)), open_request(tid, b"{", 100), tid)
    cut = await steps.read_body(flow, QUICK)
    assert cut is not None
    assert (cut.response.status, cut.outcome, cut.reason, cut.close) == (408, "rejected", BODY_TIMEOUT, True)
    assert error_of(cut.response) == "request_timeout"
    assert cut.response.headers["Connection"] == "close"


async def test_read_body_counts_a_client_that_hangs_up_mid_body() -> None:
    tid = new_trigger_id()
    request = open_request(tid, b"{", 100)
    request.content.set_exception(ConnectionResetError("Connection lost"))
    flow = flow_for(config(github_trigger(tid)), request, tid)
    gone = await steps.read_body(flow, QUICK)
    assert gone is not None
    assert (gone.response.status, gone.reason) == (400, "client_disconnected")


async def test_a_body_received_whole_needs_no_reading_place() -> None:
    tid = new_trigger_id()
    cfg = config(github_trigger(tid), limits={"max_reading_bodies": 1})
    admission = Admission(cfg, GatewayMetrics().registry)
    waiting = admission.budgets.enter("192.0.2.1")
    assert waiting is not None
    assert waiting.start_reading()  # the one reading place is taken
    whole = flow_for(cfg, webhook_request(tid, PUSH, signed(PUSH)), tid)
    ticket = admission.budgets.enter("192.0.2.2")
    assert ticket is not None
    assert await steps.hold_body_place(whole, ticket, admission) is None
    partial = flow_for(cfg, open_request(tid, b"{", 100), tid)
    refused = await steps.hold_body_place(partial, ticket, admission, patience=0.05)
    assert refused is not None
    assert (refused.response.status, refused.outcome, refused.reason) == (503, "failed", "reading_overloaded")
    assert refused.response.headers["Retry-After"] == "1"
    # A body merely in transit gets a moment to complete without a place.
    in_transit = open_request(tid, b"{", 2)
    asyncio.get_running_loop().call_later(
        0.05, lambda: (in_transit.content.feed_data(b"}"), in_transit.content.feed_eof())
    )
    assert await steps.hold_body_place(flow_for(cfg, in_transit, tid), ticket, admission, patience=5) is None


async def test_a_client_at_its_concurrency_limit_gets_429_while_others_are_served() -> None:
    tid = new_trigger_id()
    gw = chain(config(github_trigger(tid), limits={"max_concurrent_per_client": 1}))
    held = gw.handler._admission.budgets.enter("198.51.100.7")  # the PEER of webhook_request
    assert held is not None  # a request from that address is in progress
    refused = await gw.send(webhook_request(tid, PUSH, signed(PUSH)))
    assert refused.status == 429
    assert error_of(refused) == "too_many_requests"
    assert gw.counted("rejected", "client_concurrency_limited", "4xx") == 1
    assert gw.audited[-1].reason == "client_concurrency_limited"
    assert (await gw.send(webhook_request(tid, PUSH, signed(PUSH), peer="198.51.100.8"))).status == 202
    held.release()
    assert (await gw.send(webhook_request(tid, PUSH, signed(PUSH)))).status == 202


async def test_a_token_trigger_refuses_a_request_without_credentials_before_any_body_arrives() -> None:
    tid = new_trigger_id()
    gw = chain(config(bearer_trigger(tid)))
    request = open_request(tid, b"", 1_000_000)
    async with asyncio.timeout(10):  # the body never comes: only a refusal from the head returns
        refused = await gw.send(request)
    assert refused.status == 401
    assert gw.counted("rejected", "missing_token", "4xx") == 1
    assert gw.audited[-1].reason == "missing_token"


async def test_a_slow_body_is_answered_408_counted_audited_and_its_connection_closed() -> None:
    tid = new_trigger_id()
    limits = {"body_timeout_seconds": 0.3, "min_body_bytes_per_second": 0}
    gw = chain(config(github_trigger(tid), limits=limits))
    request = open_request(tid, b"{", 100)
    async with asyncio.timeout(10):
        cut = await gw.send(request)
    assert cut.status == 408
    assert gw.counted("rejected", BODY_TIMEOUT, "4xx") == 1
    assert gw.audited[-1].reason == BODY_TIMEOUT
    assert cut.prepared  # sent by the handler itself...
    request.protocol.force_close.assert_called_once_with()  # ...and the connection closed, with no lingering
    budgets = gw.handler._admission.budgets
    assert (budgets.reading.in_flight, budgets.in_flight.in_flight, len(budgets.clients)) == (0, 0, 0)


def test_the_ops_listener_needs_a_port_of_its_own() -> None:
    data = {"gateway": {"listen": {"port": 8080}, "ops_listen": {"port": 8080}}}
    with pytest.raises(ConfigError, match=r"ops_listen\.port"):
        load_model(GatewayConfig, data, "gw.yaml", env={})
    ok = load_model(GatewayConfig, {"gateway": {"ops_listen": {"port": 9090}}}, "gw.yaml", env={})
    assert ok.gateway.ops_listen is not None
    assert ok.gateway.ops_listen.port == 9090
