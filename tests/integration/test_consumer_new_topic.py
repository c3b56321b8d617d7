"""A pattern-subscribed consumer keeps running when a matching topic appears (a new tenant's first webhook),
and delivers that topic's events. (The window in between, where aiokafka has changed the subscription but
not yet reassigned, is too short to hit on purpose here; tests/unit/test_consumer_lag.py pins what the
consumer must do in it.)"""

from __future__ import annotations

import asyncio

import pytest

from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from tests.support.events import consumer_config, create_topic, event, http_workflow, produce, running_consumer
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka


async def test_a_topic_that_appears_later_is_consumed_and_the_consumer_keeps_running(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.acme"
    async with run_receiver() as receiver, HttpClients() as clients:
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            f"{topic_prefix}-late",
            [http_workflow("sink", f"{receiver.url}/sink")],
            commit_interval_seconds=0.1,  # the periodic work (commit, lag) runs often, in any window
        )
        workflows = list(build_workflows(config.workflows, clients))
        async with running_consumer(config, workflows) as (pipeline, _metrics):
            # Joined with only its own internal topics matching; now the tenant's topic is created.
            await create_topic(kafka_bootstrap, topic, 2)
            await produce(kafka_bootstrap, topic, [event("late-1")])
            got = await receiver.wait_for(1, timeout=60)
            await asyncio.sleep(1)  # a few more commit ticks after the reassignment
            assert pipeline.readiness()[0]
    assert [r.headers["ce-id"] for r in got] == ["late-1"]
