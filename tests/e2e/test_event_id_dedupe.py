"""A sender without a delivery id retries: with an ``event_id`` source its workflow runs once.

Whole processes as a user runs them: the gateway and a consumer from YAML, Kafka, and a real HTTP
workflow target on loopback. Three triggers take the same retried webhook (the same body sent twice,
as a sender does after a 503 whose event was stored after all): ``verify: none`` with ``event_id:
content_hash``, ``bearer`` with ``event_id: "{header.Idempotency-Key}"``, and a control ``none``
trigger without ``event_id``, whose two requests get two fresh ids and so run twice.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.support.builders import new_trigger_id, read_topic
from tests.support.events import wait_committed
from tests.support.kafka import free_port
from tests.support.processes import start_service
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka

BODY = b'{"monitor": "api", "status": "down"}'
TOKEN = "bearer-token-e2e"


async def test_a_retried_webhook_without_a_delivery_id_runs_its_workflow_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    hashed, keyed, plain = new_trigger_id(), new_trigger_id(), new_trigger_id()
    kafka = {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 2}}
    gw = start_service(
        "gateway",
        {
            "gateway": {"listen": {"host": "127.0.0.1", "port": (gport := free_port())}},
            "kafka": kafka,
            "triggers": [
                {
                    "id": hashed,
                    "name": "hashed",
                    "tenant": "acme",
                    "verify": {"type": "none"},
                    "event_id": "content_hash",
                },
                {
                    "id": keyed,
                    "name": "keyed",
                    "tenant": "acme",
                    "verify": {"type": "bearer", "tokens": ["${BEARER}"]},
                    "event_id": "{header.Idempotency-Key}",
                },
                {"id": plain, "name": "plain", "tenant": "acme", "verify": {"type": "none"}},
            ],
        },
        tmp_path,
        gport,
        env={"BEARER": TOKEN},
    )
    group = f"{topic_prefix}-e2e-ids"
    async with run_receiver() as receiver:
        consumer = start_service(
            "consumer",
            {
                "consumer": {
                    "group_id": group,
                    "group": {"start": "earliest"},
                    "topic_pattern": f"^{topic_prefix}\\.",
                    "listen": {"host": "127.0.0.1", "port": (cport := free_port())},
                },
                "kafka": kafka,
                "workflows": [
                    {
                        "name": f"on-{name}",
                        "match": {"trigger": name},
                        "action": {"type": "http", "url": f"{receiver.url}/{name}"},
                    }
                    for name in ("hashed", "keyed", "plain")
                ],
            },
            tmp_path,
            cport,
        )
        try:
            gw.wait_ready()
            consumer.wait_ready()
            ids: dict[str, list[str]] = {"hashed": [], "keyed": [], "plain": []}
            async with aiohttp.ClientSession() as http:
                for name, tid, headers in (
                    ("hashed", hashed, {}),
                    ("keyed", keyed, {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "idem-e2e-1"}),
                    ("plain", plain, {}),
                ):
                    for _ in range(2):  # the webhook and the sender's retry of it
                        resp = await http.post(
                            f"{gw.url}/hooks/{tid}", data=BODY, headers={"Content-Type": "application/json", **headers}
                        )
                        assert resp.status == 202, await resp.text()
                        ids[name].append((await resp.json())["id"])
            assert ids["hashed"][0] == ids["hashed"][1]
            assert len(ids["hashed"][0]) == 64  # the SHA-256 of trigger and body, in hex
            assert ids["keyed"] == ["idem-e2e-1", "idem-e2e-1"]
            assert ids["plain"][0] != ids["plain"][1]  # the control: fresh ids for the same body

            records = await read_topic(kafka_bootstrap, f"{topic_prefix}.acme", count=6)
            assert len(records) == 6  # the gateway stored every request: the consumers deduplicate
            await wait_committed(kafka_bootstrap, group, f"{topic_prefix}.acme")
        finally:
            gw_code = gw.stop()
            consumer_code = consumer.stop()
    assert gw_code == 0, gw.logs()
    assert consumer_code == 0, consumer.logs()
    runs = sorted(r.path for r in receiver.received)
    assert runs == ["/hashed", "/keyed", "/plain", "/plain"]
    by_path = {r.path: r for r in receiver.received}
    assert by_path["/hashed"].headers["ce-id"] == ids["hashed"][0]
    assert by_path["/keyed"].headers["Idempotency-Key"] == "on-keyed:idem-e2e-1"
    assert by_path["/hashed"].body == BODY
