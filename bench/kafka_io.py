"""The benchmark's direct Kafka work: create, preload, count and delete its topics."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hookgate.core.envelope import EXT_TENANT, EXT_TRIGGER, Envelope, new_event_id
from hookgate.core.kafka import make_consumer
from hookgate.core.settings import KafkaSettings


async def create_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
        if ours:
            await admin.delete_topics(ours)
        return ours
    finally:
        await admin.close()


async def record_count(bootstrap: str, topic: str) -> int:
    """Records in ``topic``: the sum of its partitions' end offsets."""
    consumer = make_consumer(KafkaSettings(bootstrap_servers=bootstrap), offset_reset="earliest")
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def preload(bootstrap: str, topic: str, count: int, body: bytes, tenant: str, keys: str = "tenant") -> None:
    """Write ``count`` CloudEvents (distinct ids) as the gateway would, acks=all.

    ``keys`` is the record key: ``default`` (the gateway's default key, the subject else the event id:
    these push-like events name no subject, so the id), ``tenant`` (``key: "{tenant}"``: one partition) or
    ``id`` (each record keyed by its event id, spread over every partition).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        pending = []
        for _ in range(count):
            env = Envelope(
                id=new_event_id(),
                source="/hookgate/bench",
                type="com.github.push",
                data=body,
                time="2026-01-01T00:00:00.000Z",
                datacontenttype="application/json",
                extensions={EXT_TENANT: tenant, EXT_TRIGGER: "bench"},
            )
            key = (tenant if keys == "tenant" else env.subject or env.id if keys == "default" else env.id).encode()
            pending.append(await producer.send(topic, env.data, key=key, headers=env.to_headers()))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def run_id() -> str:
    return uuid.uuid4().hex[:8]
