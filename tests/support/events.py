"""Produce valid hookgate CloudEvents straight to a topic, and run a consumer in-process, for consumer tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from hookgate.consumer.app import Pipeline
from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.workflows.workflow import Workflow, WorkflowSet
from hookgate.core.config import load_model
from hookgate.core.envelope import Envelope
from hookgate.core.timestamps import rfc3339_ms


def event(event_id: str, *, tenant: str = "acme", type_: str = "com.example.thing", data: bytes = b"{}") -> Envelope:
    return Envelope(
        id=event_id,
        source="/hookgate/test",
        type=type_,
        data=data,
        time=rfc3339_ms(),
        datacontenttype="application/json",
        extensions={"tenant": tenant, "trigger": "test"},
    )


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def produce(
    bootstrap: str,
    topic: str,
    events: Sequence[Envelope],
    *,
    key: bytes | None = None,
    spread: int = 0,
    pace: float = 0.0,
) -> None:
    """Write ``events`` as binary-mode records, ``pace`` seconds apart per 100.

    The key is ``key`` when given, else ``k{i % spread}`` with ``spread`` (events spread over partitions),
    else the tenant (as the gateway does by default).
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i, ev in enumerate(events):
            k = key if key is not None else f"k{i % spread}".encode() if spread else (ev.tenant or "").encode()
            futures.append(await producer.send(topic, value=ev.data, key=k, headers=ev.to_headers()))
            if pace and i % 100 == 99:
                await asyncio.sleep(pace)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def group_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        got = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in got.items()}
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> offset after its last record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def wait_committed(bootstrap: str, group: str, topic: str, timeout: float = 60.0) -> None:
    """Wait until ``group`` committed every partition of ``topic`` up to its current end (all finished)."""
    ends = await end_offsets(bootstrap, topic)
    async with asyncio.timeout(timeout):
        while True:
            offsets = await group_offsets(bootstrap, group)
            if all(offsets.get(TopicPartition(topic, p), 0) >= end for p, end in ends.items()):
                return
            await asyncio.sleep(0.3)


def consumer_config(
    bootstrap: str, prefix: str, group: str, workflows: list[dict[str, Any]], **consumer: Any
) -> ConsumerConfig:
    # Every test group is new and reads what the test produced before it joined: start explicitly at earliest
    # (a group without consumer.group.start refuses to start); a test of the start itself passes its own group.
    consumer.setdefault("group", {"start": "earliest"})
    data = {
        "consumer": {
            "group_id": group,
            "topic_pattern": f"^{prefix}\\.",
            "listen": {"host": "127.0.0.1", "port": 0},
            **consumer,
        },
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 3}},
        "workflows": workflows,
    }
    return load_model(ConsumerConfig, data, "<test>", env={})


def http_workflow(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "action": {"type": "http", "url": url}, **extra}


def sample(metrics: ConsumerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


@asynccontextmanager
async def running_consumer(
    config: ConsumerConfig, workflows: Sequence[Workflow]
) -> AsyncIterator[tuple[Pipeline, ConsumerMetrics]]:
    """The consumer's :class:`Pipeline` in this process until the block ends (then stopped gracefully)."""
    metrics = ConsumerMetrics()
    pipeline = Pipeline(config, WorkflowSet(workflows), metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        async with asyncio.timeout(60):
            while not pipeline.readiness()[0]:
                if task.done():
                    await task
                    raise RuntimeError("consumer stopped before it joined its group")
                await asyncio.sleep(0.1)
        yield pipeline, metrics
    finally:
        stop.set()
        await task


async def scrape(url: str, name: str, **labels: str) -> float:
    """One sample from a service's ``/metrics`` (0 when absent)."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0
