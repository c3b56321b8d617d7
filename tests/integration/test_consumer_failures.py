"""Workflows that fail, against the real broker: what is retried, what dead-letters, which attempt it is.

- a ``KeyError`` (a bug no retry fixes) dead-letters at once, its traceback in the dead letter's headers;
- ``Retry`` and an ordinary exception are retried, told apart by the retries counter's ``reason``;
- the attempt number a handler sees continues across a restart (the count is in the dedupe changelog);
- the handler sees where the event is stored and when the gateway accepted it;
- an HTTP action's ``retry_on``/``fail_on`` decide what a status does.
"""

from __future__ import annotations

import asyncio

import pytest

from hookgate.consumer import Consumer, Event, Retry
from hookgate.consumer.state.deadletter import H_ATTEMPTS, H_ERROR, H_TRACEBACK, H_WORKFLOW
from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.core.envelope import parse_rfc3339
from tests.support.builders import read_topic
from tests.support.events import (
    consumer_config,
    create_topic,
    end_offsets,
    event,
    http_workflow,
    produce,
    running_consumer,
    sample,
    wait_committed,
)
from tests.support.receiver import Received, run_receiver

pytestmark = pytest.mark.kafka

RETRIES = "hookgate_consumer_retries_total"


async def test_a_key_error_dead_letters_at_once_with_its_traceback(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    calls: dict[str, int] = {}
    app = Consumer("failures")

    @app.workflow("deploy")
    async def deploy(event: Event) -> None:
        calls[event.id] = calls.get(event.id, 0) + 1
        if event.id == "bug":
            payload: dict[str, str] = {}
            print(payload["ref"])  # the handler's bug: the payload has no such key
        elif event.id == "flaky" and calls[event.id] == 1:
            raise ConnectionError("the deploy API went away")
        elif event.id == "busy" and calls[event.id] == 1:
            raise Retry("deploy lock held")

    config = consumer_config(
        kafka_bootstrap, topic_prefix, group, [], retry={"attempts": 5, "base_delay_seconds": 0.05}
    )
    async with running_consumer(config, app.workflows) as (_, metrics):
        await produce(kafka_bootstrap, topic, [event("bug"), event("flaky"), event("busy")])
        (dead,) = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=1, timeout=60)
        await wait_committed(kafka_bootstrap, group, topic)
        assert sample(metrics, RETRIES, workflow="deploy", reason="exception") == 1  # flaky, once
        assert sample(metrics, RETRIES, workflow="deploy", reason="retry_requested") == 1  # busy, once
    assert calls == {"bug": 1, "flaky": 2, "busy": 2}  # the bug was not retried
    headers = dict(dead.headers)
    assert headers["ce_id"] == b"bug"
    assert headers[H_WORKFLOW] == b"deploy"
    assert headers[H_ATTEMPTS] == b"1"
    assert headers[H_ERROR] == b"KeyError: 'ref'"
    traceback = headers[H_TRACEBACK].decode()
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'print(payload["ref"])' in traceback
    assert traceback.rstrip().endswith("KeyError: 'ref'")


async def test_the_attempt_number_continues_across_a_restart(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    seen: list[tuple[int, bool, str | None, int | None, int | None]] = []
    accepted: list[object] = []
    ran = asyncio.Event()
    app = Consumer("attempts")

    @app.workflow("deploy")
    async def deploy(event: Event) -> None:
        seen.append((event.attempt, event.is_redrive, event.topic, event.partition, event.offset))
        accepted.append(event.accepted_at)
        ran.set()
        if event.attempt == 1:
            raise Retry("not yet", after=60)  # a long wait: the process is stopped during it

    # The retry waits up to a minute: the process stops meanwhile, and the next one takes the event over.
    config = consumer_config(
        kafka_bootstrap,
        topic_prefix,
        group,
        [],
        retry={"attempts": 5, "base_delay_seconds": 30, "max_delay_seconds": 60},
    )
    sent = event("e1")
    async with running_consumer(config, app.workflows):
        await produce(kafka_bootstrap, topic, [sent])
        await asyncio.wait_for(ran.wait(), 60)
        # The failed attempt is on record before the retry waits: that record is what the next process reads.
        (noted,) = await read_topic(kafka_bootstrap, config.dedupe_topic(), count=1, timeout=60)
        done = DoneRecord.decode(noted.value or b"")
        assert done is not None
        assert (noted.key, done.outcome, done.attempts) == (b"deploy:e1", "retrying", 1)
    assert (await end_offsets(kafka_bootstrap, topic)) == {0: 1}

    async with running_consumer(config, app.workflows):
        await wait_committed(kafka_bootstrap, group, topic)
    assert seen == [(1, False, topic, 0, 0), (2, False, topic, 0, 0)]
    assert accepted == [parse_rfc3339(sent.time or ""), parse_rfc3339(sent.time or "")]


async def test_an_http_actions_retry_on_and_fail_on_decide_what_a_status_does(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    async with run_receiver() as receiver, HttpClients() as clients:
        answers = {"locked": [409, 200], "gone": [503, 200]}

        def respond(r: Received) -> int:
            left = answers[r.headers["ce-id"]]
            return left.pop(0) if len(left) > 1 else left[0]

        receiver.respond = respond
        workflow = http_workflow("deploy", f"{receiver.url}/deploy")
        workflow["action"].update(retry_on=[409], fail_on=[503])  # 409 is retried, 503 is final for this target
        config = consumer_config(kafka_bootstrap, topic_prefix, group, [workflow], retry={"base_delay_seconds": 0.05})
        async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
            await produce(kafka_bootstrap, topic, [event("locked"), event("gone")])
            (dead,) = await read_topic(kafka_bootstrap, config.dead_letter_topic(), count=1, timeout=60)
            await wait_committed(kafka_bootstrap, group, topic)
            assert sample(metrics, RETRIES, workflow="deploy", reason="status_4xx") == 1
            assert sample(metrics, RETRIES, workflow="deploy", reason="status_5xx") == 0
    assert [r.headers["ce-id"] for r in receiver.received] == ["locked", "gone", "locked"]
    headers = dict(dead.headers)
    assert (headers["ce_id"], headers["hookgate_status"], headers[H_ATTEMPTS]) == (b"gone", b"503", b"1")
