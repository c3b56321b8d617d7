"""The Kafka inspector against a real broker, a real gateway, a real consumer and a real HTTP workflow target.

Events by time from the tenant topic, refusals with their reasons from the audit topic, per-workflow
outcomes from the consumer group's dedupe changelog, and replays (one event, a range, forced) that run no
workflow twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from hookgate.admin.inspect.kafka import InspectorLimits, KafkaEventInspector
from hookgate.admin.inspect.model import EventNotFound, EventQuery, InspectorUnavailable
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.subscriptions import build_workflows
from hookgate.core.settings import KafkaSettings
from tests.support.admin import ADMIN_TOKEN, admin_client, bearer
from tests.support.builders import github_signature, github_trigger, new_trigger_id
from tests.support.events import consumer_config, http_workflow, running_consumer, wait_committed
from tests.support.gateway import running_gateway
from tests.support.kafka import free_port
from tests.support.memory_catalog import MemoryCatalog
from tests.support.receiver import Receiver, run_receiver

pytestmark = pytest.mark.kafka

GROUP_SUFFIX = "-g"


@dataclass
class Stack:
    gateway: TestClient
    inspector: KafkaEventInspector
    receiver: Receiver
    tid: str
    other: str
    topic: str
    group: str
    bootstrap: str
    kafka: KafkaSettings
    triggers: MemoryCatalog

    async def deliver(
        self, delivery: str, body: dict[str, Any], *, forged: bool = False, tid: str | None = None
    ) -> int:
        raw = orjson.dumps(body)
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(raw, "not the secret") if forged else github_signature(raw),
            "Authorization": "Bearer never-shown",
            "X-Request-Id": f"req-{delivery}",
        }
        resp = await self.gateway.post(f"/hooks/{tid or self.tid}", data=raw, headers=headers)
        return resp.status

    async def settled(self) -> None:
        await wait_committed(self.bootstrap, self.group, self.topic)

    def runs(self) -> Counter[tuple[str, str]]:
        return Counter((r.path, r.headers["ce-id"]) for r in self.receiver.received)


@pytest.fixture
async def stack(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Stack]:
    tid, other = new_trigger_id(), new_trigger_id()
    specs = [github_trigger(tid), github_trigger(other, name="gh-other", tenant="globex")]
    group = f"{topic_prefix}{GROUP_SUFFIX}"
    audit = {"topic": True, "include_headers": True}
    async with (
        run_receiver() as receiver,
        HttpClients() as clients,
        running_gateway(kafka_bootstrap, topic_prefix, specs, audit=audit) as gateway,
    ):
        config = consumer_config(
            kafka_bootstrap,
            topic_prefix,
            group,
            [http_workflow("deliver", f"{receiver.url}/deliver"), http_workflow("notify", f"{receiver.url}/notify")],
            retry={"attempts": 1, "base_delay_seconds": 0.1, "max_delay_seconds": 0.2},
        )
        kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topics={"prefix": topic_prefix, "partitions": 3})
        triggers = MemoryCatalog(yaml=specs)
        async with (
            running_consumer(config, build_workflows(config.workflows, clients)),
            KafkaEventInspector(kafka, triggers) as inspector,
        ):
            topic = f"{topic_prefix}.acme"
            yield Stack(gateway, inspector, receiver, tid, other, topic, group, kafka_bootstrap, kafka, triggers)


async def test_events_refusals_and_outcomes_read_back_from_kafka(stack: Stack) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    assert await stack.deliver("d-1", {"ref": "main", "token": "body-credential"}) == 202
    assert await stack.deliver("d-forged", {"ref": "main"}, forged=True) == 401
    assert await stack.deliver("d-other", {"ref": "x"}, tid=stack.other) == 202  # another tenant's
    await stack.settled()

    listed = await stack.inspector.events(EventQuery(trigger_id=stack.tid, since=start))
    by_outcome = {s.outcome: s for s in listed}
    assert sorted(by_outcome) == ["accepted", "refused"], listed
    ok, bad = by_outcome["accepted"], by_outcome["refused"]
    assert (ok.id, ok.status, ok.trigger_id, ok.type, ok.topic) == (
        "d-1",
        202,
        stack.tid,
        "com.github.push",
        stack.topic,
    )
    assert (bad.id, bad.status, bad.reason, bad.trigger_id) == ("req-d-forged", 401, "bad_signature", stack.tid)
    newest = await stack.inspector.events(EventQuery(trigger_id=stack.tid, since=start, limit=1))
    assert [s.id for s in newest] == ["req-d-forged"]  # the newest request only
    # A tenant's listing holds its own requests only; the other tenant's trigger is another scope.
    tenant_ids = {s.id for s in await stack.inspector.events(EventQuery(tenant="acme", since=start))}
    assert tenant_ids == {"d-1", "req-d-forged"}
    assert [s.id for s in await stack.inspector.events(EventQuery(tenant="acme", outcome="refused"))] == [
        "req-d-forged"
    ]
    assert await stack.inspector.events(EventQuery(trigger_id=stack.tid, type="com.github.issues")) == []
    assert await stack.inspector.event("d-other", tenant="acme") is None

    detail = await stack.inspector.event("d-1", tenant="acme", trigger_id=stack.tid)
    assert detail is not None
    assert detail.attributes["id"] == "d-1"
    assert detail.attributes["tenant"] == "acme"
    assert detail.headers["x-github-delivery"] == "[redacted]"  # the preset reads it: redacted like the audit log
    assert detail.headers["x-hub-signature-256"] == "[redacted]"
    assert detail.headers["authorization"] == "[redacted]"
    assert detail.headers["x-github-event"] in ("push", "[redacted]")
    assert detail.body is not None
    assert orjson.loads(detail.body) == {"ref": "main", "token": "[redacted]"}
    assert detail.body_redacted
    assert detail.request["method"] == "POST"
    assert {(w.group, w.workflow, w.outcome) for w in detail.workflows} == {
        (stack.group, "deliver", "succeeded"),
        (stack.group, "notify", "succeeded"),
    }
    refused = await stack.inspector.event("req-d-forged", tenant="acme", trigger_id=stack.tid)
    assert refused is not None
    assert refused.summary.reason == "bad_signature"
    assert refused.body is None
    assert refused.headers["x-hub-signature-256"] == "[redacted]"

    counts = await stack.inspector.counts([stack.tid, stack.other])
    assert (counts[stack.tid].accepted, counts[stack.tid].refused) == (1, 1)
    assert (counts[stack.other].accepted, counts[stack.other].refused) == (1, 0)
    assert counts[stack.tid].complete
    # A read that reaches its bound says so: the counts are then lower bounds.
    async with KafkaEventInspector(stack.kafka, stack.triggers, limits=InspectorLimits(scan_records=1)) as tight:
        bounded = (await tight.counts([stack.tid]))[stack.tid]
    assert not bounded.complete
    assert bounded.accepted + bounded.refused <= 1


async def test_replays_run_no_workflow_twice_unless_forced_for_a_dead_letter(stack: Stack) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    # "notify" fails for d-2 (400: dead-lettered at once); everything else succeeds.
    stack.receiver.respond = lambda r: 400 if (r.path, r.headers["ce-id"]) == ("/notify", "d-2") else 200
    for delivery in ("d-1", "d-2", "d-3"):
        assert await stack.deliver(delivery, {"n": delivery}) == 202
    await stack.settled()
    first = stack.runs()
    assert first == Counter({(p, d): 1 for p in ("/deliver", "/notify") for d in ("d-1", "d-2", "d-3")})

    # One event, then the whole range (dry run first): the ids are kept, so dedupe runs nothing again.
    one = await stack.inspector.replay(tenant="acme", trigger_id=stack.tid, event_id="d-1")
    assert list(one.event_ids) == ["d-1"]
    assert dict(one.topics) == {stack.topic: 1}
    assert not one.dry_run
    dry = await stack.inspector.replay(tenant="acme", trigger_id=stack.tid, since=start, dry_run=True)
    assert sorted(dry.event_ids) == ["d-1", "d-2", "d-3"]
    assert dry.dry_run
    everything = await stack.inspector.replay(tenant="acme", trigger_id=stack.tid, since=start)
    # The single replay's copy of d-1 is in the range too, but each event is replayed once.
    assert sorted(everything.event_ids) == ["d-1", "d-2", "d-3"]
    await stack.settled()
    assert stack.runs() == first

    detail = await stack.inspector.event("d-1", tenant="acme", trigger_id=stack.tid)
    assert detail is not None
    assert len(detail.deliveries) == 3
    assert detail.record_headers == {}  # the original record; its copies carry hookgate_replay
    d2 = await stack.inspector.event("d-2", tenant="acme")
    assert d2 is not None
    assert {(w.workflow, w.outcome) for w in d2.workflows} == {("deliver", "succeeded"), ("notify", "deadlettered")}

    # force re-drives: the dead-lettered workflow runs again (now fixed), the succeeded one does not.
    stack.receiver.respond = lambda r: 200
    forced = await stack.inspector.replay(tenant="acme", trigger_id=stack.tid, event_id="d-2", force=True)
    assert forced.forced
    assert forced.redrive_id
    await stack.settled()
    assert stack.runs() == first + Counter({("/notify", "d-2"): 1})
    d2 = await stack.inspector.event("d-2", tenant="acme")
    assert d2 is not None
    assert {(w.workflow, w.outcome) for w in d2.workflows} == {
        ("deliver", "succeeded"),
        ("notify", "succeeded"),
    }

    with pytest.raises(EventNotFound):
        await stack.inspector.replay(tenant="acme", trigger_id=stack.tid, event_id="never-sent")
    with pytest.raises(EventNotFound):  # another tenant's trigger is not this tenant's
        await stack.inspector.replay(tenant="acme", trigger_id=stack.other)


async def test_kafka_out_of_reach_is_a_503_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the port: the inspector gives up within its deadline and the API answers 503."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)  # it would win over the port below
    tid = new_trigger_id()
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    catalog = MemoryCatalog(yaml=[github_trigger(tid)])
    limits = InspectorLimits(deadline_seconds=2.0)
    async with KafkaEventInspector(kafka, catalog, limits=limits) as inspector:
        with pytest.raises(InspectorUnavailable):
            await inspector.events(EventQuery(trigger_id=tid))
        async with admin_client(catalog, inspector) as client:
            resp = await client.get(f"/admin/triggers/{tid}/events", headers=bearer(ADMIN_TOKEN))
            assert resp.status == 503
            assert (await resp.json())["error"] == "inspector_unavailable"
            assert "Retry-After" in resp.headers
