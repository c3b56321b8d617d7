"""SIGTERM semantics in-process: stop fetching, let the running action finish, commit it, leave the group."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from hookgate.consumer.app import Pipeline
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.workflows.workflow import ActionResult, WorkflowSet
from hookgate.core.envelope import Envelope
from tests.support.events import consumer_config, create_topic, event, group_offsets, produce

pytestmark = pytest.mark.kafka


class SlowWorkflow:
    """An action that runs until the test lets it finish."""

    name = "slow"
    ordered = False
    target = "test:slow"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished: list[str] = []

    def matches(self, event: Envelope) -> bool:
        return True

    async def run(self, event: Envelope) -> ActionResult:
        self.started.set()
        await self.release.wait()
        self.finished.append(event.id)
        return ActionResult(ok=True, status=200)


async def _group_state(bootstrap: str, group: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_consumer_groups([group])
        state: str = resp.groups[0][2]
        return state
    finally:
        await admin.close()


async def test_stop_lets_the_running_action_finish_commits_it_and_leaves_the_group(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 1)
    wf = SlowWorkflow()
    config = consumer_config(kafka_bootstrap, topic_prefix, group, [], shutdown_grace_seconds=60)
    pipeline = Pipeline(config, WorkflowSet([wf]), ConsumerMetrics())
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        await produce(kafka_bootstrap, topic, [event("slow-1")])
        async with asyncio.timeout(60):
            await wf.started.wait()
        assert await _group_state(kafka_bootstrap, group) == "Stable"
        stop.set()  # what SIGTERM does
        async with asyncio.timeout(60):
            while pipeline.readiness() != (False, {"kafka": "stopping"}):  # noqa: ASYNC110 - loop ended
                await asyncio.sleep(0.05)
        assert not task.done()  # still waiting for the action in flight
        await produce(kafka_bootstrap, topic, [event("after-stop")])  # not fetched any more
        wf.release.set()
        async with asyncio.timeout(60):
            await task
    finally:
        wf.release.set()
        stop.set()
        await task
    assert wf.finished == ["slow-1"]
    offsets = await group_offsets(kafka_bootstrap, group)
    assert offsets[TopicPartition(topic, 0)] == 1  # the finished action is committed, the later record is not
    assert await _group_state(kafka_bootstrap, group) == "Empty"  # left the group, no session timeout needed
