"""A team's Python handlers, run as a user runs them: ``hookgate consumer -c ... --handlers module:app``.

The handler module is the repo's copyable example (``examples/workflows/deploy_handler.py``); it runs
beside a YAML workflow in the same process, gets only the events its match selects, and a failure it
raises is retried by the runner (same Idempotency-Key) until the deploy service accepts it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from hookgate.core.envelope import Envelope
from tests.support.consumer_group import create_topics, produce, wait_committed
from tests.support.kafka import free_port
from tests.support.processes import start_service
from tests.support.receiver import Received, run_receiver

pytestmark = pytest.mark.kafka


def github(event_id: str, type: str, ref: str | None, body: dict[str, Any], subject: str | None = None) -> Envelope:
    ext = {"tenant": "acme", "trigger": "github"}
    if ref is not None:
        ext["vars"] = orjson.dumps({"ref": ref}).decode()
    return Envelope(
        id=event_id,
        source="/hookgate/github",
        type=type,
        data=orjson.dumps(body),
        subject=subject,
        datacontenttype="application/json",
        extensions=ext,
    )


def repo(name: str, **extra: Any) -> dict[str, Any]:
    return {"repository": {"full_name": name}, "after": f"sha-{name}", **extra}


EVENTS = [
    github("p1", "com.github.push", "refs/heads/main", repo("acme/api")),  # deploy
    github("p2", "com.github.push", "refs/heads/dev", repo("acme/api")),  # wrong branch
    github("p3", "com.github.push", "refs/heads/main", repo("globex/web")),  # not an acme repository
    github("p4", "com.github.push", "refs/heads/main", repo("acme/web", deleted=True)),  # branch deleted
    github("p5", "com.github.push", "refs/heads/main", repo("acme/web")),  # deploy; first attempt gets 503
    github("r1", "com.github.release.published", None, repo("acme/api"), subject="v1.2.0"),  # announce
]


async def test_handlers_from_the_example_module_run_beside_yaml_workflows(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topics(kafka_bootstrap, [topic])
    group = f"{topic_prefix}-sdk"
    attempts: Counter[str] = Counter()

    def respond(r: Received) -> int:
        if r.path != "/deploys":
            return 200
        event_id = orjson.loads(r.body)["event_id"]
        attempts[event_id] += 1
        return 503 if event_id == "p5" and attempts[event_id] == 1 else 200

    async with run_receiver() as receiver:
        receiver.respond = respond
        port = free_port()
        service = start_service(
            "consumer",
            {
                "consumer": {
                    "group_id": group,
                    "group": {"start": "earliest"},
                    "topics": [topic],
                    "listen": {"host": "127.0.0.1", "port": port},
                    "retry": {"base_delay_seconds": 0.1, "max_delay_seconds": 1},
                },
                "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 3}},
                "workflows": [{"name": "audit", "action": {"type": "http", "url": f"{receiver.url}/audit"}}],
            },
            tmp_path,
            port,
            env={"DEPLOY_API_URL": f"{receiver.url}/deploys"},
            args=["--handlers", "examples.workflows.deploy_handler:app"],
        )
        try:
            await asyncio.to_thread(service.wait_ready)
            await produce(kafka_bootstrap, [(topic, b"acme", e) for e in EVENTS])
            await receiver.wait_for(len(EVENTS) + 3)  # every audit, p1 once, p5 twice
            await wait_committed(kafka_bootstrap, group, [topic])
        finally:
            code = service.stop()
    assert code == 0, service.logs()

    deploys = [r for r in receiver.received if r.path == "/deploys"]
    assert attempts == Counter({"p1": 1, "p5": 2})
    assert {r.headers["Idempotency-Key"] for r in deploys if orjson.loads(r.body)["event_id"] == "p5"} == {
        "deploy-main:p5"
    }
    p1 = next(orjson.loads(r.body) for r in deploys if orjson.loads(r.body)["event_id"] == "p1")
    assert p1 == {"repository": "acme/api", "sha": "sha-acme/api", "event_id": "p1"}
    audits = Counter(r.headers["ce-id"] for r in receiver.received if r.path == "/audit")
    assert audits == Counter({e.id: 1 for e in EVENTS})
    assert "release v1.2.0 of acme/api" in service.logs()
