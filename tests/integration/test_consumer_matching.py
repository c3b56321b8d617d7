"""Done-when 1: every event reaches every matching workflow, and only those.

A mix of events across tenants, types, extracted variables and bodies goes through a real broker to a
consumer whose workflows use every kind of subscription (topics, tenants, attributes, prefix, regex,
vars, JSONPath, any/all/not, the legacy shorthand, a templated request, a Python handler). The expected
deliveries come from an independent oracle written in plain Python next to each workflow, and the
target counts deliveries per (workflow, event id) via the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import orjson
import pytest
import yaml

from hookgate.consumer import Consumer, Event, match
from hookgate.consumer.app import serve
from hookgate.consumer.config import ConsumerConfig
from hookgate.core.config import load_model
from hookgate.core.envelope import Envelope
from tests.support.consumer_group import create_topics, produce, wait_committed
from tests.support.kafka import free_port
from tests.support.processes import Service, start_service
from tests.support.receiver import Received, run_receiver

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Spec:
    """What an event is made of, so the oracle reads plain fields rather than the envelope."""

    id: str
    tenant: str
    type: str
    ref: str | None
    repo: str | None  # None: the body is not JSON
    amount: int
    subject: str | None

    def envelope(self) -> Envelope:
        ext = {"tenant": self.tenant, "trigger": "hooks"}
        if self.ref is not None:
            ext["vars"] = orjson.dumps({"ref": self.ref}).decode()
        if self.repo is None:
            data, ctype = f"plain amount={self.amount}".encode(), "text/plain"
        else:
            data = orjson.dumps({"repository": {"full_name": self.repo}, "amount": self.amount})
            ctype = "application/json"
        return Envelope(
            id=self.id,
            source=f"/hookgate/{self.tenant}",
            type=self.type,
            data=data,
            subject=self.subject,
            datacontenttype=ctype,
            extensions=ext,
        )


def event_mix() -> list[Spec]:
    tenants = ["acme", "globex"]
    types = ["com.github.push", "com.github.pull_request", "com.stripe.charge.succeeded"]
    refs: list[str | None] = ["refs/heads/main", "refs/heads/dev", None]
    repos: list[str | None] = ["acme/api", "globex/web", None]
    out = []
    for i, (tenant, typ, ref, repo) in enumerate(itertools.product(tenants, types, refs, repos)):
        subject = "release/1.0" if i % 4 == 0 else None
        out.append(Spec(f"ev-{i:03d}", tenant, typ, ref, repo, amount=i % 13, subject=subject))
    return out  # 54 events


Oracle = Callable[[Spec], bool]


def workflows(prefix: str, url: str) -> list[tuple[dict[str, Any], Oracle]]:
    """Each YAML workflow with the plain-Python statement of which events it must receive."""

    def wf(name: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, "action": {"type": "http", "url": f"{url}/wf/{name}"}, **fields}

    return [
        (
            wf("legacy", match={"tenant": "acme", "type": "com.github.*"}),
            lambda s: s.tenant == "acme" and s.type.startswith("com.github."),
        ),
        (
            {
                "name": "main-pushes",
                "match": {"type": "com.github.push", "vars": {"ref": "refs/heads/main"}},
                "action": {
                    "type": "http",
                    "url": url + "/wf/main-pushes/{attr.tenant}?ref={vars.ref}",
                    "json": {"id": "{attr.id}", "repo": "{data.$.repository.full_name|default:none}"},
                },
            },
            lambda s: s.type == "com.github.push" and s.ref == "refs/heads/main",
        ),
        (
            wf("globex-acme-repos", tenants=["globex"], match={"data": {"$.repository.full_name": {"glob": "acme/*"}}}),
            lambda s: s.tenant == "globex" and s.repo == "acme/api",
        ),
        (
            wf(
                "github-not-dev",
                match={"type": {"regex": r"^com\.github\."}, "not": {"vars": {"ref": {"suffix": "/dev"}}}},
            ),
            lambda s: s.type.startswith("com.github.") and s.ref != "refs/heads/dev",
        ),
        (
            wf("stripe-or-lucky", match={"any": [{"type": "com.stripe.*"}, {"data": {"$.amount": {"in": [7, 11]}}}]}),
            lambda s: s.type.startswith("com.stripe.") or (s.repo is not None and s.amount in (7, 11)),
        ),
        (
            wf("globex-topic", topics=[f"{prefix}.globex"]),
            lambda s: s.tenant == "globex",
        ),
        (
            wf("acme-untracked", match={"tenant": "acme", "vars": {"ref": {"exists": False}}}),
            lambda s: s.tenant == "acme" and s.ref is None,
        ),
        (
            wf(
                "releases",
                match={
                    "subject": {"prefix": "release/"},
                    "all": [{"trigger": "hooks"}, {"source": {"glob": "/hookgate/*"}}],
                },
            ),
            lambda s: s.subject is not None and s.subject.startswith("release/"),
        ),
        (wf("nobody", match={"type": "com.gitlab.push"}), lambda s: False),
    ]


async def wait_ready(port: int, timeout: float = 60.0) -> None:
    """Until the consumer is a member of its group (``/readyz`` answers 200)."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)


def deliveries(received: list[Received]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for r in received:
        workflow, _, event_id = r.headers["Idempotency-Key"].partition(":")
        counts[(workflow, event_id)] += 1
    return counts


async def test_every_event_reaches_every_matching_workflow_and_only_those(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = [f"{topic_prefix}.acme", f"{topic_prefix}.globex"]
    await create_topics(kafka_bootstrap, topics)
    specs = event_mix()
    group = f"{topic_prefix}-match"

    team = Consumer("team")
    handled: list[str] = []

    @team.workflow(
        "py-big-main", match=match.var("ref", "refs/heads/main") & match.data("$.amount", regex="^(1[0-2]|9)$")
    )
    async def big_main(event: Event) -> None:
        assert event.json()["amount"] >= 9
        handled.append(event.id)

    def py_oracle(s: Spec) -> bool:
        return s.ref == "refs/heads/main" and s.repo is not None and s.amount >= 9

    async with run_receiver() as receiver:
        pairs = workflows(topic_prefix, receiver.url)
        config = load_model(
            ConsumerConfig,
            {
                "consumer": {
                    "group_id": group,
                    "group": {"start": "earliest"},
                    "topics": topics,
                    "listen": {"host": "127.0.0.1", "port": free_port()},
                },
                "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 3}},
                "workflows": [w for w, _ in pairs],
            },
            "<test>",
            env={},
        )
        expected = Counter({(w["name"], s.id): 1 for w, oracle in pairs for s in specs if oracle(s)})
        assert len(expected) > 100  # the mix exercises every workflow many times

        records = [(f"{topic_prefix}.{s.tenant}", s.tenant.encode(), s.envelope()) for s in specs]
        half = len(records) // 2
        await produce(kafka_bootstrap, records[:half])  # a backlog waiting for the consumer ...
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, stop, extra_workflows=team.workflows))
        try:
            await wait_ready(config.consumer.listen.port)
            await produce(kafka_bootstrap, records[half:])  # ... and events arriving while it runs
            await receiver.wait_for(sum(expected.values()), timeout=90)
            await wait_committed(kafka_bootstrap, group, topics)
        finally:
            stop.set()
            assert await asyncio.wait_for(task, 60) == 0

    got = deliveries(receiver.received)
    for name in {w["name"] for w, _ in pairs}:
        want = {k for k in expected if k[0] == name}
        have = {k for k in got if k[0] == name}
        assert have == want, f"{name}: missing {sorted(want - have)}, unexpected {sorted(have - want)}"
    assert got == expected  # and each exactly once
    assert sorted(handled) == sorted(s.id for s in specs if py_oracle(s))
    assert handled  # the handler's match is not vacuous

    templated = [r for r in receiver.received if r.headers["Idempotency-Key"].startswith("main-pushes:")]
    for r in templated:
        body = orjson.loads(r.body)
        spec = next(s for s in specs if s.id == body["id"])
        assert r.path == f"/wf/main-pushes/{spec.tenant}"
        assert parse_qs(r.query) == {"ref": ["refs/heads/main"]}
        assert body["repo"] == (spec.repo or "none")
        assert r.headers["Content-Type"] == "application/json"
    plain = [r for r in receiver.received if r.headers["Idempotency-Key"].startswith("legacy:")]
    for r in plain:
        spec = next(s for s in specs if s.id == r.headers["ce-id"])
        assert r.body == spec.envelope().data
        assert r.headers["ce-tenant"] == "acme"


def push(event_id: str, ref: str, type: str = "com.github.push") -> Envelope:
    return Envelope(
        id=event_id,
        source="/hookgate/github",
        type=type,
        data=b'{"repository": {"full_name": "acme/api"}}',
        datacontenttype="application/json",
        extensions={"tenant": "acme", "trigger": "github", "vars": orjson.dumps({"ref": ref}).decode()},
    )


async def wait_log(service: Service, event: str, after: int = 0, timeout: float = 30.0) -> dict[str, Any]:
    """The first JSON log line of ``service`` with this ``event``, among lines after the first ``after``."""
    async with asyncio.timeout(timeout):
        while True:
            lines = [ln for ln in service.logs().splitlines() if ln.startswith("{")][after:]
            for line in lines:
                entry: dict[str, Any] = orjson.loads(line)
                if entry.get("event") == event:
                    return entry
            await asyncio.sleep(0.1)


def log_count(service: Service) -> int:
    return sum(1 for ln in service.logs().splitlines() if ln.startswith("{"))


async def test_sighup_reloads_workflows_and_keeps_them_when_the_new_file_is_invalid(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = f"{topic_prefix}.acme"
    await create_topics(kafka_bootstrap, [topic])
    group = f"{topic_prefix}-reload"
    port = free_port()

    async with run_receiver() as receiver:

        def config(workflows: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "consumer": {
                    "group_id": group,
                    "group": {"start": "earliest"},
                    "topics": [topic],
                    "listen": {"host": "127.0.0.1", "port": port},
                },
                "kafka": {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 3}},
                "workflows": workflows,
            }

        def wf(name: str, **match_: Any) -> dict[str, Any]:
            return {"name": name, "match": match_, "action": {"type": "http", "url": f"{receiver.url}/{name}"}}

        service = start_service("consumer", config([wf("before", type="com.github.push")]), tmp_path, port)
        config_file = tmp_path / f"consumer-{port}.yaml"
        try:
            await asyncio.to_thread(service.wait_ready)
            await produce(kafka_bootstrap, [(topic, b"acme", push("e1", "refs/heads/main"))])
            await receiver.wait_for(1)
            await wait_committed(kafka_bootstrap, group, [topic])

            # A new set: "before" goes away, two workflows arrive.
            seen = log_count(service)
            config_file.write_text(
                yaml.safe_dump(
                    config([wf("after", type="com.github.*"), wf("main-only", vars={"ref": "refs/heads/main"})])
                )
            )
            service.proc.send_signal(signal.SIGHUP)
            reloaded = await wait_log(service, "workflows_reloaded", after=seen)
            assert reloaded["added"] == ["after", "main-only"]
            assert reloaded["removed"] == ["before"]
            await produce(
                kafka_bootstrap,
                [(topic, b"acme", push("e2", "refs/heads/main")), (topic, b"acme", push("e3", "refs/heads/dev"))],
            )
            await receiver.wait_for(1 + 3)
            await wait_committed(kafka_bootstrap, group, [topic])

            # An invalid file: logged with its key path, the running set stays in force.
            seen = log_count(service)
            config_file.write_text(yaml.safe_dump(config([wf("broken", type={"regex": "("})])))
            service.proc.send_signal(signal.SIGHUP)
            failed = await wait_log(service, "workflows_reload_failed", after=seen)
            assert "workflows[0].match.type.regex" in failed["error"]
            await produce(kafka_bootstrap, [(topic, b"acme", push("e4", "refs/heads/main"))])
            await receiver.wait_for(1 + 3 + 2)
            await wait_committed(kafka_bootstrap, group, [topic])
        finally:
            code = service.stop()
    assert code == 0, service.logs()
    assert service.proc.returncode == 0
    assert deliveries(receiver.received) == Counter(
        {
            ("before", "e1"): 1,
            ("after", "e2"): 1,
            ("main-only", "e2"): 1,
            ("after", "e3"): 1,
            ("after", "e4"): 1,
            ("main-only", "e4"): 1,
        }
    )
