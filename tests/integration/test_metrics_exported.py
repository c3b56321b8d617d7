"""Every metric the dashboards and alerts name is exported by the real services, histogram suffixes
included, and every series they select exists in a fresh process before any traffic (counters at 0).

A real gateway and a real consumer run as processes against the test broker; their /metrics pages are
compared with the selectors of deploy/monitoring/dashboards/*.json and deploy/monitoring/alerts.yaml. A
renamed metric, a dropped label value or a counter created only on first use fails this test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import github_signature, github_trigger, new_trigger_id
from tests.support.kafka import free_port
from tests.support.monitoring import Selector, alert_expressions, dashboard_expressions, selectors
from tests.support.processes import Service, start_service
from tests.support.receiver import run_receiver

pytestmark = pytest.mark.kafka

Samples = list[tuple[str, dict[str, str]]]  # (sample name, labels)

# Series that exist only once something happened: a partition's lag needs a known offset to subtract.
AFTER_TRAFFIC = {"hookgate_consumer_lag_records"}
# Made by Prometheus itself, not by a service.
PROMETHEUS_MADE = {"up"}


def _selectors() -> list[tuple[str, Selector]]:
    """Every selector of the dashboards and alerts, without Grafana's variable matchers (namespace, job...)."""
    found = []
    for expr in [*dashboard_expressions(), *alert_expressions()]:
        for sel in selectors(expr.raw):
            kept = tuple(m for m in sel.matchers if "$" not in m[2])
            found.append((expr.where, Selector(sel.metric, kept)))
    return found


def _unmatched(wanted: Iterable[tuple[str, Selector]], samples: Samples) -> list[str]:
    return [
        f"{where}: {sel}"
        for where, sel in wanted
        if not any(name == sel.metric and sel.matches(labels) for name, labels in samples)
    ]


async def _scrape(http: aiohttp.ClientSession, service: Service) -> Samples:
    async with http.get(f"{service.url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return [(s.name, dict(s.labels)) for family in text_string_to_metric_families(text) for s in family.samples]


async def _until(http: aiohttp.ClientSession, service: Service, name: str, what: str, timeout: float = 60.0) -> Samples:
    """Scrape until a sample named ``name`` is exported (``what`` names the wait in the failure)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                samples = await _scrape(http, service)
                if any(n == name for n, _ in samples):
                    return samples
                await asyncio.sleep(0.3)
    except TimeoutError:
        raise AssertionError(f"{what} within {timeout} s") from None


async def test_dashboards_and_alerts_name_only_exported_series(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    tid = new_trigger_id()
    kafka = {"bootstrap_servers": kafka_bootstrap, "topics": {"prefix": topic_prefix, "partitions": 2}}
    gw = start_service(
        "gateway",
        {
            "gateway": {"listen": {"host": "127.0.0.1", "port": (gport := free_port())}, "audit": {"topic": True}},
            "kafka": kafka,
            "triggers": [github_trigger(tid)],
        },
        tmp_path,
        gport,
    )
    consumer: Service | None = None
    async with run_receiver() as receiver, aiohttp.ClientSession() as http:
        try:
            await asyncio.to_thread(gw.wait_ready)  # the gateway has created the tenant topic by now
            consumer = start_service(
                "consumer",
                {
                    "consumer": {
                        "group_id": f"{topic_prefix}-metrics",
                        "group": {"start": "earliest"},
                        "topics": [f"{topic_prefix}.acme"],
                        "listen": {"host": "127.0.0.1", "port": (cport := free_port())},
                    },
                    "kafka": kafka,
                    "workflows": [
                        {
                            "name": "on-push",
                            "match": {"tenant": "acme"},
                            "action": {"type": "http", "url": receiver.url},
                        }
                    ],
                },
                tmp_path,
                cport,
            )
            await asyncio.to_thread(consumer.wait_ready)  # ready = a member of its group, partitions assigned

            # Fresh processes, no webhook sent yet: every selected series must already be there.
            fresh = [*await _scrape(http, gw), *await _scrape(http, consumer)]
            wanted = [(w, s) for w, s in _selectors() if s.metric not in PROMETHEUS_MADE]
            assert len(wanted) > 40
            before = [(w, s) for w, s in wanted if s.metric not in AFTER_TRAFFIC]
            assert _unmatched(before, fresh) == []

            # A renamed metric is caught: the same check against a scrape without one family fails.
            renamed = [(n, labels) for n, labels in fresh if n != "hookgate_gateway_kafka_ready"]
            assert any("hookgate_gateway_kafka_ready" in miss for miss in _unmatched(before, renamed))

            # Histograms are compared by their real series: every _bucket named has its _sum and _count.
            names = {n for n, _ in fresh}
            for _, sel in before:
                if sel.metric.endswith("_bucket"):
                    base = sel.metric.removesuffix("_bucket")
                    assert {f"{base}_sum", f"{base}_count"} <= names, base

            # One webhook through to the workflow: the partition's lag series appears.
            body = b'{"zen": "metrics"}'
            async with http.post(
                f"{gw.url}/hooks/{tid}",
                data=body,
                headers={"X-Hub-Signature-256": github_signature(body), "X-GitHub-Event": "push"},
            ) as resp:
                assert resp.status == 202, await resp.text()
            await receiver.wait_for(1)
            after = [
                *await _scrape(http, gw),
                *await _until(http, consumer, "hookgate_consumer_lag_records", "no lag series after an event"),
            ]
            assert _unmatched(wanted, after) == []
        finally:
            gw_code = gw.stop()
            consumer_code = consumer.stop() if consumer is not None else 0
    assert gw_code == 0, gw.logs()
    assert consumer_code == 0, consumer.logs() if consumer is not None else ""
