"""Readiness reads aiokafka's private group-coordinator state (no public API has it): pin that here.

If aiokafka renames ``AIOKafkaConsumer._coordinator`` or ``GroupCoordinator.coordinator_id``, or stops
clearing the id when the coordinator is lost (``coordinator_dead()``, what a broker outage calls), these
tests fail instead of ``/readyz`` silently staying 200.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from hookgate.consumer.engine.runner import coordinator_known
from tests.support.events import consumer_config, create_topic, running_consumer

pytestmark = pytest.mark.kafka


async def test_coordinator_known_follows_aiokafkas_coordinator_state(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topic(kafka_bootstrap, topic, 1)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"{topic_prefix}-g")
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
        assert coordinator_known(consumer) is True
        consumer._coordinator.coordinator_dead()  # what aiokafka does when it loses the coordinator
        assert coordinator_known(consumer) is False
        async with asyncio.timeout(60):  # aiokafka looks it up again in the background
            while not coordinator_known(consumer):
                await consumer.getmany(timeout_ms=200)
    finally:
        await consumer.stop()


async def test_a_running_consumer_is_ready_only_as_a_group_member(kafka_bootstrap: str, topic_prefix: str) -> None:
    await create_topic(kafka_bootstrap, f"{topic_prefix}.acme", 1)
    config = consumer_config(kafka_bootstrap, topic_prefix, f"{topic_prefix}-g", [])
    async with running_consumer(config, []) as (pipeline, _):
        assert pipeline.readiness() == (True, {"kafka": "ok", "group": "member"})
    assert pipeline.readiness() == (False, {"kafka": "stopping"})
