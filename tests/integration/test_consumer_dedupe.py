"""Never twice: a workflow runs once per (workflow, event id), across sender retries, replays and restarts."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from tests.support.builders import github_signature, github_trigger, new_trigger_id
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
from tests.support.gateway import running_gateway
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka


@pytest.fixture
async def gateway(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[tuple[TestClient, str]]:
    tid = new_trigger_id()
    async with running_gateway(kafka_bootstrap, topic_prefix, [github_trigger(tid)]) as client:
        yield client, tid


async def _post(client: TestClient, tid: str, delivery: str, body: bytes) -> None:
    resp = await client.post(
        f"/hooks/{tid}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": github_signature(body),
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
        },
    )
    assert resp.status == 202, await resp.text()
    assert await resp.json() == {"id": delivery}


async def test_a_webhook_resent_with_the_same_delivery_id_runs_its_workflows_once(
    gateway: tuple[TestClient, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    client, tid = gateway
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    async with run_receiver() as receiver:
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            group,
            [
                http_workflow("deploy", f"{receiver.url}/deploy", match={"type": "com.github.push"}),
                http_workflow("audit", f"{receiver.url}/audit"),
                http_workflow("elsewhere", f"{receiver.url}/never", match={"tenant": "globex"}),
            ],
        )
        async with (
            HttpClients() as clients,
            running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics),
        ):
            body = b'{"ref": "refs/heads/main"}'
            await _post(client, tid, "delivery-1", body)
            await _post(client, tid, "delivery-1", body)  # the sender retried: same delivery id
            await _post(client, tid, "delivery-2", body)
            assert sum((await end_offsets(kafka_bootstrap, topic)).values()) == 3  # all three are in Kafka
            await wait_committed(kafka_bootstrap, group, topic)
            for wf in ("deploy", "audit"):
                assert sample(metrics, "hookgate_consumer_deliveries_total", workflow=wf, outcome="deduplicated") == 1
                assert sample(metrics, "hookgate_consumer_deliveries_total", workflow=wf, outcome="succeeded") == 2

    runs = Counter((r.path, r.headers["Idempotency-Key"]) for r in receiver.received)
    assert runs == {
        ("/deploy", "deploy:delivery-1"): 1,
        ("/audit", "audit:delivery-1"): 1,
        ("/deploy", "deploy:delivery-2"): 1,
        ("/audit", "audit:delivery-2"): 1,
    }
    assert all(r.body == body for r in receiver.received)


async def _rewind(bootstrap: str, group: str, topic: str) -> None:
    """Replay: move the group's committed offsets back to the start of every partition."""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()


async def test_a_replay_after_a_restart_runs_nothing_again(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}.acme", f"{topic_prefix}-g"
    await create_topic(kafka_bootstrap, topic, 3)
    ids = [f"r{i}" for i in range(300)]
    await produce(kafka_bootstrap, topic, [event(i) for i in ids[:150]], key=b"a")
    await produce(kafka_bootstrap, topic, [event(i) for i in ids[150:]], key=b"b")
    async with run_receiver() as receiver:
        config = consumer_config(kafka_bootstrap, topic_prefix, group, [http_workflow("sink", f"{receiver.url}/s")])
        async with HttpClients() as clients:
            async with running_consumer(config, build_workflows(config.workflows, clients)):
                await wait_committed(kafka_bootstrap, group, topic)
            assert sorted(r.headers["ce-id"] for r in receiver.received) == sorted(ids)

            # A new process (fresh memory) restores the dedupe state from the changelog, then replays all.
            await _rewind(kafka_bootstrap, group, topic)
            async with running_consumer(config, build_workflows(config.workflows, clients)) as (_, metrics):
                await wait_committed(kafka_bootstrap, group, topic)
                assert sample(metrics, "hookgate_consumer_dedupe_restored_records_total") >= len(ids)
                assert (
                    sample(metrics, "hookgate_consumer_deliveries_total", workflow="sink", outcome="deduplicated")
                    == 300
                )
                assert sample(metrics, "hookgate_consumer_deliveries_total", workflow="sink", outcome="succeeded") == 0
    assert len(receiver.received) == len(ids)
