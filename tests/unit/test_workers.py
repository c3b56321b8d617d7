"""The supervisor's pure parts: merging the workers' expositions, reading a worker's readiness, the environment."""

from __future__ import annotations

import socket

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hookgate.core.workers import ENV_FD, ENV_INDEX, _Families, _readiness, merge_expositions, worker_context


def _exposition(consumed: float, in_flight: float) -> str:
    registry = CollectorRegistry()
    Counter("hookgate_consumer_events_consumed", "Records read.", ["topic"], registry=registry).labels("t").inc(
        consumed
    )
    Gauge("hookgate_consumer_in_flight_records", "In flight.", registry=registry).set(in_flight)
    Histogram("hookgate_consumer_action_duration_seconds", "Action.", buckets=(0.1, 1.0), registry=registry).observe(
        0.5
    )
    return generate_latest(registry).decode()


def test_merged_families_carry_the_worker_label_and_render_once_per_family() -> None:
    families = merge_expositions({"0": _exposition(3, 1), "1": _exposition(5, 2)})
    registry = CollectorRegistry()
    registry.register(_Families(families))
    text = generate_latest(registry).decode()
    assert text.count("# TYPE hookgate_consumer_events_consumed_total counter") == 1
    assert text.count("# TYPE hookgate_consumer_action_duration_seconds histogram") == 1
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("hookgate_consumer_events_consumed_total", (("topic", "t"), ("worker", "0")))] == 3
    assert samples[("hookgate_consumer_events_consumed_total", (("topic", "t"), ("worker", "1")))] == 5
    assert samples[("hookgate_consumer_in_flight_records", (("worker", "1"),))] == 2
    assert samples[("hookgate_consumer_action_duration_seconds_bucket", (("le", "1.0"), ("worker", "0")))] == 1
    assert samples[("hookgate_consumer_action_duration_seconds_count", (("worker", "1"),))] == 1


def test_a_worker_that_did_not_answer_adds_nothing() -> None:
    assert merge_expositions({}) == []
    only = merge_expositions({"1": _exposition(1, 0)})
    assert {s.labels["worker"] for f in only for s in f.samples} == {"1"}


def test_readiness_in_a_word() -> None:
    assert _readiness(None) == "starting"
    assert _readiness((200, b'{"ready": true}')) == "ready"
    assert _readiness((503, b'{"ready": false, "checks": {"kafka": "ok", "group": "joining"}}')) == (
        "kafka: ok, group: joining"
    )
    assert _readiness((500, b"oops")) == "status 500"


def test_worker_context_only_for_a_supervised_process() -> None:
    assert worker_context({}) is None
    assert worker_context({ENV_INDEX: "1"}) is None
    a, b = socket.socketpair()
    try:
        ctx = worker_context({ENV_INDEX: "1", ENV_FD: str(b.fileno())})
        assert ctx is not None
        assert ctx.index == 1
        assert ctx.channel.fileno() == b.fileno()
        ctx.channel.detach()  # the test's socket keeps the descriptor
    finally:
        a.close()
        b.close()
