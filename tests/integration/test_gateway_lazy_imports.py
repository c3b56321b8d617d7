"""What a running gateway loads, against the real broker (issue 10: its peak RSS).

A gateway that followed an empty trigger topic to its end has not loaded ``cryptography``; one that read a
record with sealed secrets has, and serves the trigger with them. Each gateway runs in a fresh interpreter:
in the test process every module is long imported.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
KEY = base64.b64encode(os.urandom(32)).decode()
SETTINGS: dict[str, Any] = {"catalog": {"encryption": {"keys": {"k1": KEY}}}}

GATEWAY = """
import asyncio, json, sys
from hookgate.gateway.http.app import CATALOG
from tests.support.builders import github_signature
from tests.support.gateway import running_gateway

async def main(bootstrap, prefix, settings, secret):
    async with running_gateway(bootstrap, prefix, [], **settings) as client:
        catalog = client.app[CATALOG]
        runtime = [v.id for v in catalog.list() if v.origin == "runtime"]
        statuses = []
        for tid in runtime:
            for s in (secret, "not the secret"):
                body = b'{"zen": "ok"}'
                headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                           "X-Hub-Signature-256": github_signature(body, s)}
                statuses.append((await client.post(f"/hooks/{tid}", data=body, headers=headers)).status)
        names = ("cryptography", "hookgate.admin.serve", "hookgate.admin.api")
        print("RESULT", json.dumps({"caught_up": catalog.caught_up, "runtime": runtime, "statuses": statuses,
                          "loaded": sorted(n for n in names if n in sys.modules)}))

asyncio.run(main(*json.loads(sys.argv[1])))
"""


def gateway(bootstrap: str, prefix: str, secret: str = "") -> dict[str, Any]:
    """Start a gateway (catalog on, a key configured, no YAML trigger) in a fresh interpreter until ready."""
    args = json.dumps([bootstrap, prefix, SETTINGS, secret])
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(GATEWAY), args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Its log lines go to stdout too: the result is the line marked as such.
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def test_an_empty_trigger_topic_loads_neither_cryptography_nor_the_admin_api(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    out = gateway(kafka_bootstrap, topic_prefix)
    assert out == {"caught_up": True, "runtime": [], "statuses": [], "loaded": []}


async def test_a_record_with_sealed_secrets_is_opened_and_served(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with running_gateway(kafka_bootstrap, topic_prefix, [], **SETTINGS) as writer:
        from hookgate.gateway.http.app import CATALOG

        issued = await writer.app[CATALOG].create({"name": "gh", "tenant": "acme", "verify": {"type": "github"}})
    assert issued.secret is not None
    out = gateway(kafka_bootstrap, topic_prefix, issued.secret)
    assert out == {
        "caught_up": True,
        "runtime": [issued.trigger.id],
        "statuses": [202, 401],  # the sealed secret was opened: it verifies, another does not
        "loaded": ["cryptography"],
    }


async def test_the_follower_asks_for_the_trigger_topics_metadata_only(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiokafka.client import AIOKafkaClient

    from hookgate.gateway.http.app import CATALOG
    from tests.support.builders import github_trigger, new_trigger_id

    # Observed, not replaced: every metadata request still goes to the broker.
    asked: list[tuple[AIOKafkaClient, set[str]]] = []
    update = AIOKafkaClient._metadata_update

    async def observed(self: AIOKafkaClient, cluster: Any, topics: Any) -> Any:
        asked.append((self, set(topics)))
        return await update(self, cluster, topics)

    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", observed)
    # The YAML trigger's tenant topic is another topic of the cluster, besides the trigger topic.
    async with running_gateway(kafka_bootstrap, topic_prefix, [github_trigger(new_trigger_id())], **SETTINGS) as gw:
        catalog = gw.app[CATALOG]
        assert catalog.caught_up
        follower = catalog._consumer._client  # type: ignore[union-attr]
        requests = [topics for client, topics in asked if client is follower]
        known = set(follower.cluster.topics())
    assert requests  # it did ask, and only ever for the trigger topic (never the whole cluster's)
    assert all(topics == {catalog.topic} for topics in requests), requests
    assert known == {catalog.topic}


async def test_the_publishers_probe_asks_for_the_gateways_topics_only(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiokafka.client import AIOKafkaClient

    from tests.support.builders import github_trigger, new_trigger_id

    # Observed, not replaced. The client's own refreshes update its live view (self.cluster); a probe asks
    # into a throw-away copy, as fetch_all_metadata() did, but for the gateway's topics instead of all.
    probes: list[list[str] | None] = []
    update = AIOKafkaClient._metadata_update

    async def observed(self: AIOKafkaClient, cluster: Any, topics: Any) -> Any:
        if cluster is not self.cluster:
            probes.append(sorted(topics) if topics else None)
        return await update(self, cluster, topics)

    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", observed)
    async with running_gateway(kafka_bootstrap, topic_prefix, [github_trigger(new_trigger_id())]):
        await asyncio.sleep(2.5)  # the probe runs every 2 s once the producer is connected
    assert probes, "the publisher's probe never ran"
    assert all(topics == [f"{topic_prefix}.acme"] for topics in probes), probes
