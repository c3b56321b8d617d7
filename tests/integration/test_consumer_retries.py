"""Retries, dead letters and the circuit breaker against a real broker and a real HTTP target."""

from __future__ import annotations

import pytest

from hookgate.consumer.state.deadletter import H_ATTEMPTS, H_ERROR, H_OFFSET, H_STATUS, H_TOPIC, H_WORKFLOW
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from tests.support.builders import read_topic
from tests.support.events import (
    consumer_config,
    create_topic,
    event,
    http_workflow,
    produce,
    running_consumer,
    sample,
    wait_committed,
)
from tests.support.receiver import Received, run_receiver

pytestmark = pytest.mark.kafka


def _id(r: Received) -> str:
    return r.headers["ce-id"]


async def test_a_failing_event_retries_while_later_ones_flow_then_is_dead_lettered(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 3)
    ok_ids = [f"ev-{i}" for i in range(30)]
    # Every event has key "acme", so all share one partition: the failing one comes first.
    events = [event("ev-fail", data=b'{"n": "fail"}'), event("ev-bad", data=b'{"n": "bad"}')]
    events += [event(i) for i in ok_ids]
    async with run_receiver() as receiver:
        receiver.respond = lambda r: {"ev-fail": 503, "ev-bad": 400}.get(_id(r), 200)
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            f"{topic_prefix}-g",
            [http_workflow("notify", f"{receiver.url}/notify")],
            retry={"attempts": 5, "base_delay_seconds": 0.4, "max_delay_seconds": 2},
            breaker={"failure_threshold": 1000},
        )
        async with (
            HttpClients() as clients,
            running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics),
        ):
            await produce(kafka_bootstrap, topic, events)
            dead = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=2, timeout=60)
            await wait_committed(kafka_bootstrap, f"{topic_prefix}-g", topic)
            await receiver.wait_for(5 + 1 + len(ok_ids))
            assert sample(metrics, "hookgate_consumer_retries_total", workflow="notify", reason="status_5xx") == 4
            assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="notify", outcome="succeeded") == 30
            assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="notify", outcome="deadlettered") == 2

    order = [_id(r) for r in receiver.received]
    assert order.count("ev-fail") == 5  # every configured attempt
    assert order.count("ev-bad") == 1  # a 400 cannot succeed: no retry
    assert sorted(i for i in order if i.startswith("ev-") and i[3:].isdigit()) == sorted(ok_ids)
    assert all(order.count(i) == 1 for i in ok_ids)
    # Not blocked: every later event of the same partition was delivered while the failing one still retried.
    last_fail = max(i for i, x in enumerate(order) if x == "ev-fail")
    assert max(order.index(i) for i in ok_ids) < last_fail

    by_id = {dict(r.headers)["ce_id"].decode(): r for r in dead}
    assert set(by_id) == {"ev-fail", "ev-bad"}
    failed, bad = by_id["ev-fail"], by_id["ev-bad"]
    assert failed.value == b'{"n": "fail"}'
    assert failed.key == b"acme"
    fh = dict(failed.headers)
    assert fh[H_WORKFLOW] == b"notify"
    assert fh[H_ATTEMPTS] == b"5"
    assert fh[H_ERROR] == b"HTTP 503"
    assert fh[H_STATUS] == b"503"
    assert fh[H_TOPIC] == topic.encode()
    assert fh["ce_type"] == b"com.example.thing"  # the original headers travel along
    assert int(fh[H_OFFSET]) == 0
    bh = dict(bad.headers)
    assert (bh[H_ATTEMPTS], bh[H_ERROR], bh[H_STATUS]) == (b"1", b"HTTP 400", b"400")
    assert bad.value == b'{"n": "bad"}'


async def test_the_circuit_breaker_stops_hammering_a_dead_target(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)
    async with run_receiver() as down, run_receiver() as up:
        down.respond = lambda _r: 503
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            f"{topic_prefix}-g",
            [http_workflow("down", f"{down.url}/x"), http_workflow("up", f"{up.url}/y")],
            retry={"attempts": 4, "base_delay_seconds": 0.05, "max_delay_seconds": 0.2},
            breaker={"failure_threshold": 2, "reset_seconds": 600},
        )
        async with (
            HttpClients() as clients,
            running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics),
        ):
            await produce(kafka_bootstrap, topic, [event(f"e{i}") for i in range(3)])
            dead = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=3, timeout=60)
            await wait_committed(kafka_bootstrap, f"{topic_prefix}-g", topic)
            target = down.url
            assert sample(metrics, "hookgate_consumer_circuit_state", target=target) == 2  # open
            assert sample(metrics, "hookgate_consumer_circuit_state", target=up.url) == 0
            assert sample(metrics, "hookgate_consumer_actions_total", workflow="down", outcome="rejected") > 0
    # 3 events x 4 attempts would be 12 requests; the breaker opened after 2 consecutive failures (at
    # most the runs already in flight then got through).
    assert 2 <= len(down.received) <= 4
    assert len(up.received) == 3  # the healthy target of the same events was unaffected
    assert len(dead) == 3
    assert {dict(r.headers)[H_WORKFLOW] for r in dead} == {b"down"}
    assert b"circuit_open" in {dict(r.headers)[H_ERROR] for r in dead}


async def test_an_ordered_workflow_holds_later_events_of_the_key_until_the_failing_one_is_finished(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)
    async with run_receiver() as receiver:
        receiver.respond = lambda r: 503 if _id(r) == "o-fail" else 200
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            f"{topic_prefix}-g",
            [http_workflow("ordered", f"{receiver.url}/o", ordered=True)],
            retry={"attempts": 3, "base_delay_seconds": 0.2, "max_delay_seconds": 1},
        )
        async with (
            HttpClients() as clients,
            running_consumer(config, build_workflows(config.workflows, clients)),
        ):
            # Key "a": o-fail then o-0..o-4; key "b": x-0, behind o-fail in the same partition.
            await produce(kafka_bootstrap, topic, [event("o-fail")], key=b"a")
            await produce(kafka_bootstrap, topic, [event("x-0")], key=b"b")
            await produce(kafka_bootstrap, topic, [event(f"o-{i}") for i in range(5)], key=b"a")
            await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=1, timeout=60)
            await wait_committed(kafka_bootstrap, f"{topic_prefix}-g", topic)
    order = [_id(r) for r in receiver.received]
    assert order.count("o-fail") == 3
    last_fail = max(i for i, x in enumerate(order) if x == "o-fail")
    # Same key: held until the failing event was dead-lettered, then delivered in order.
    assert [x for x in order if x.startswith("o-") and x != "o-fail"] == [f"o-{i}" for i in range(5)]
    assert min(order.index(f"o-{i}") for i in range(5)) > last_fail
    # Another key is not held.
    assert order.index("x-0") < last_fail
