"""A broker outage is a few log lines, not hundreds: one warning when Kafka goes, one info line when it is back.

A gateway (with its audit topic) and a consumer run as processes against a broker of this test's own,
under light webhook traffic. The broker is stopped for about 12 s and started again; then the lines each
process wrote from just before the stop are counted. Before hookgate turned aiokafka's retry lines down,
the same outage (25 s) wrote about 2,800 lines from the gateway and 4,300 from the consumer, most at
error level.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.builders import github_signature, github_trigger, new_trigger_id
from tests.support.kafka import LocalBroker, free_port
from tests.support.processes import Service, start_service

pytestmark = pytest.mark.kafka

OUTAGE_S = 12.0
MAX_CLIENT_ERRORS = 5  # aiokafka lines at error level per process over the whole outage
MAX_CLIENT_LINES = 20  # aiokafka lines at any level (warnings such as "Marking the coordinator dead")


def _lines(service: Service, skip: int) -> list[dict[str, Any]]:
    """The JSON log lines a service wrote after its first ``skip`` lines (a line that is not JSON fails)."""
    return [json.loads(line) for line in service.logs().splitlines()[skip:]]


def _events(lines: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(line["event"]) for line in lines if "logger" not in line)


def _client(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if str(line.get("logger", "")).startswith("aiokafka")]


async def _ready(http: aiohttp.ClientSession, service: Service) -> bool:
    try:
        async with http.get(f"{service.url}/readyz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def _until(what: str, check: Any, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


async def test_a_broker_outage_is_one_warning_and_one_info_line_per_dependency(
    private_broker: LocalBroker, topic_prefix: str, tmp_path: Path
) -> None:
    tid = new_trigger_id()
    kafka = {"bootstrap_servers": private_broker.bootstrap, "topics": {"prefix": topic_prefix, "partitions": 2}}
    gport, cport = free_port(), free_port()
    gateway = start_service(
        "gateway",
        {
            "gateway": {
                "listen": {"host": "127.0.0.1", "port": gport},
                "audit": {"topic": True},
                "publish_timeout_seconds": 2,
            },
            "kafka": kafka,
            "triggers": [github_trigger(tid)],
        },
        tmp_path,
        gport,
    )
    consumer: Service | None = None
    statuses: Counter[int] = Counter()
    try:
        await asyncio.to_thread(gateway.wait_ready)  # the tenant topic exists from here on
        consumer = start_service(
            "consumer",
            {
                "consumer": {
                    "group_id": f"{topic_prefix}-g",
                    "group": {"start": "earliest"},
                    "topics": [f"{topic_prefix}.acme"],
                    "listen": {"host": "127.0.0.1", "port": cport},
                },
                "kafka": kafka,
                "workflows": [
                    {
                        "name": "nobody",
                        "match": {"tenant": "globex"},
                        "action": {"type": "http", "url": "http://127.0.0.1:9/"},
                    }
                ],
            },
            tmp_path,
            cport,
        )
        await asyncio.to_thread(consumer.wait_ready)
        async with aiohttp.ClientSession() as http:
            ids = count()

            async def post() -> int:
                body = b'{"light": "traffic"}'
                headers = {"X-Hub-Signature-256": github_signature(body), "X-GitHub-Delivery": f"d-{next(ids)}"}
                async with http.post(f"{gateway.url}/hooks/{tid}", data=body, headers=headers) as resp:
                    statuses[resp.status] += 1
                    return resp.status

            async def traffic() -> None:
                while True:
                    await _ok(post)
                    await asyncio.sleep(0.5)

            assert await post() == 202
            marks = (len(gateway.logs().splitlines()), len(consumer.logs().splitlines()))
            sender = asyncio.create_task(traffic())
            try:
                await asyncio.to_thread(private_broker.down)
                await asyncio.sleep(OUTAGE_S)
                await asyncio.to_thread(private_broker.up)
                await _until("the gateway accepted no webhook after the broker came back", lambda: _ok(post))
                await _until("the gateway is not ready again", lambda: _ready(http, gateway))
                await _until("the consumer is not ready again", lambda: _ready(http, consumer))
                await _until("the consumer did not log kafka_reachable", lambda: _logged(consumer, marks[1]))
            finally:
                sender.cancel()
    finally:
        gateway.stop()
        if consumer is not None:
            consumer.stop()

    assert statuses[503] > 0  # the outage was seen by the senders
    for name, service, mark in (("gateway", gateway, marks[0]), ("consumer", consumer, marks[1])):
        lines = _lines(service, mark)
        events, client = _events(lines), _client(lines)
        errors = [line for line in client if line["level"] == "error"]
        print(
            f"\n{name}: {len(lines)} lines from the stop on; hookgate's outage lines "
            f"{ {e: n for e, n in events.items() if 'reachable' in e} }; aiokafka: {len(client)} lines, "
            f"{len(errors)} at error: {[line['event'][:80] for line in client]}"
        )
        assert events["kafka_unreachable"] == 1, name
        assert events["kafka_still_unreachable"] <= 1, name  # the outage is shorter than the reminder interval
        assert events["kafka_reachable"] == 1, name
        order = [line["event"] for line in lines if line["event"] in ("kafka_unreachable", "kafka_reachable")]
        assert order == ["kafka_unreachable", "kafka_reachable"], name
        # The audit producer's records wait out a short outage in its buffer: at most one outage, and it ended.
        assert events["audit_topic_unreachable"] == events["audit_topic_reachable"] <= 1, name
        assert len(errors) <= MAX_CLIENT_ERRORS, (name, errors)
        assert len(client) <= MAX_CLIENT_LINES, (name, client)
        went = next(line for line in lines if line["event"] == "kafka_unreachable")
        assert (went["level"], went["dependency"]) == ("warning", "kafka")
        assert went["reason"]


async def _ok(post: Any) -> bool:
    try:
        return bool(await post() == 202)
    except aiohttp.ClientError:
        return False


async def _logged(service: Service, skip: int) -> bool:
    return any(line.get("event") == "kafka_reachable" for line in _lines(service, skip))
