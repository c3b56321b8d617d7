"""Produce CloudEvents records and watch a consumer group's progress, for consumer tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hookgate.core.envelope import Envelope


async def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics])
    finally:
        await admin.close()


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes, Envelope]]) -> None:
    """Write ``(topic, key, event)`` records in binary content mode and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=event.data, key=key, headers=event.to_headers())
            for topic, key, event in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def wait_committed(bootstrap: str, group: str, topics: Iterable[str], timeout: float = 60.0) -> None:
    """Return once ``group`` has committed every partition of ``topics`` up to its end offset.

    The consumer commits an offset only after every workflow of the records before it finished, so
    this is "everything produced so far has been fully handled".
    """
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        tps = []
        for topic in topics:
            parts = probe.partitions_for_topic(topic)
            while parts is None:
                await probe._client.force_metadata_update()
                parts = probe.partitions_for_topic(topic)
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        ends = await probe.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while True:
            lagging = {tp: end for tp, end in ends.items() if end > 0 and ((await probe.committed(tp)) or 0) < end}
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} has not committed up to {lagging} after {timeout}s")
            await asyncio.sleep(0.2)
    finally:
        await probe.stop()
