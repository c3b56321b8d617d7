"""Build configs and read topics back, for integration and e2e tests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from hookgate.core.config import load_model
from hookgate.gateway.config import GatewayConfig

GITHUB_SECRET = "It's a Secret to Everybody"


def new_trigger_id() -> str:
    return secrets.token_urlsafe(24)


def github_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def gateway_config(bootstrap: str, prefix: str, triggers: list[dict[str, Any]], **gateway: Any) -> GatewayConfig:
    data = {
        "gateway": {"listen": {"host": "127.0.0.1", "port": 0}, **gateway},
        "kafka": {"bootstrap_servers": bootstrap, "topics": {"prefix": prefix, "partitions": 3}},
        "triggers": triggers,
    }
    return load_model(GatewayConfig, data, "<test>", env={})


def github_trigger(tid: str, name: str = "gh", tenant: str = "acme", **extra: Any) -> dict[str, Any]:
    return {
        "id": tid,
        "name": name,
        "tenant": tenant,
        "verify": {"type": "github", "secrets": [GITHUB_SECRET]},
        **extra,
    }


async def read_topic(
    bootstrap: str, topic: str, *, count: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``count`` records from the start of every partition of ``topic`` (fewer if the timeout ends first)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while parts is None and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
                if parts is None:
                    await asyncio.sleep(0.2)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord[bytes, bytes]] = []
        while len(out) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                out.extend(recs)
        return out
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topic: str, *, timeout: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record ``topic`` holds now: each partition read from its start up to its end offset.

    To show that nothing more was written, call it once every producer that could write to ``topic``
    has stopped (a stopped gateway or CLI has flushed what it accepted): then "now" is "ever", and no
    wait for records that should not come is needed. A topic that does not exist holds nothing.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                return []
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            out: list[ConsumerRecord[bytes, bytes]] = []
            behind = set(tps)
            while behind:
                batch = await consumer.getmany(*behind, timeout_ms=200)
                for recs in batch.values():
                    out.extend(recs)
                behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}
            return out
    finally:
        await consumer.stop()
