"""A webhook signed exactly as GitHub documents it travels from the gateway process through Kafka
to a consumer process and on to a real HTTP workflow receiver."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from tests.support.builders import GITHUB_SECRET, new_trigger_id, read_topic
from tests.support.kafka import free_port
from tests.support.processes import start_service
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka

BODY = b"Hello, World!"
SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


async def test_githubs_documented_example_reaches_the_workflow(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tid = new_trigger_id()
    kafka = {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 2}}
    gw = start_service(
        "gateway",
        {
            "gateway": {"listen": {"host": "127.0.0.1", "port": (gport := free_port())}},
            "kafka": kafka,
            "triggers": [
                {
                    "id": tid,
                    "name": "github",
                    "tenant": "acme",
                    "verify": {"type": "github", "secrets": ["${GH_SECRET}"]},
                }
            ],
        },
        tmp_path,
        gport,
        env={"GH_SECRET": GITHUB_SECRET},
    )
    async with run_receiver() as receiver:
        consumer = start_service(
            "consumer",
            {
                "consumer": {
                    "group_id": f"{topic_prefix}-e2e",
                    "group": {"start": "earliest"},
                    "topic_pattern": f"^{topic_prefix}\\.",
                    "listen": {"host": "127.0.0.1", "port": (cport := free_port())},
                },
                "kafka": kafka,
                "workflows": [
                    {
                        "name": "on-push",
                        "match": {"tenant": "acme", "type": "com.github.push"},
                        "action": {"type": "http", "url": f"{receiver.url}/run"},
                    },
                    {
                        "name": "other-tenant",
                        "match": {"tenant": "globex"},
                        "action": {"type": "http", "url": f"{receiver.url}/never"},
                    },
                ],
            },
            tmp_path,
            cport,
        )
        try:
            gw.wait_ready()
            consumer.wait_ready()
            async with aiohttp.ClientSession() as http:
                resp = await http.post(
                    f"{gw.url}/hooks/{tid}",
                    data=BODY,
                    headers={
                        "Content-Type": "text/plain",
                        "X-Hub-Signature-256": SIGNATURE,
                        "X-GitHub-Event": "push",
                        "X-GitHub-Delivery": "e2e-delivery-1",
                    },
                )
                assert resp.status == 202, await resp.text()
                assert await resp.json() == {"id": "e2e-delivery-1"}

            records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=1)
            assert len(records) == 1
            rec = records[0]
            assert rec.key == b"e2e-delivery-1"  # default key: GitHub names no subject, so the event id
            assert rec.value == BODY
            ce = from_binary(KafkaMessage(headers=dict(rec.headers), key=rec.key, value=rec.value), JSONFormat())
            assert ce.get_specversion() == "1.0"
            assert ce.get_id() == "e2e-delivery-1"
            assert ce.get_type() == "com.github.push"
            assert ce.get_source() == "/hookgate/github"
            assert ce.get_time() is not None
            assert ce.get_extension("tenant") == "acme"
            assert ce.get_extension("trigger") == "github"

            got = await receiver.wait_for(1)
            assert got[0].path == "/run"
            assert got[0].body == BODY
            assert got[0].headers["ce-id"] == "e2e-delivery-1"
            assert got[0].headers["ce-type"] == "com.github.push"
            assert got[0].headers["Idempotency-Key"] == "on-push:e2e-delivery-1"
        finally:
            gw_code = gw.stop()
            consumer_code = consumer.stop()
    assert gw_code == 0, gw.logs()
    assert consumer_code == 0, consumer.logs()
    assert all(r.path == "/run" for r in receiver.received)
    lines = [json.loads(line) for line in gw.logs().splitlines() if line.startswith("{")]
    # One line per request: the audit record is the request log line (no separate "webhook" line).
    requests = [line for line in lines if line.get("request_id")]
    assert [line["event"] for line in requests] == ["audit"] * len(requests)
    accepted = [line for line in requests if line["outcome"] == "accepted"]
    assert len(accepted) == 1
    assert accepted[0]["event_id"] == "e2e-delivery-1"
    assert (accepted[0]["level"], accepted[0]["status"], accepted[0]["trigger"]) == ("info", 202, "github")
    assert accepted[0]["timestamp"].endswith("Z")
    assert GITHUB_SECRET not in gw.logs()
    assert SIGNATURE.split("=")[1] not in gw.logs()
