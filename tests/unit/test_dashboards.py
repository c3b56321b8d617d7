"""The Grafana dashboards: generated from deploy/monitoring/build.py, committed as generated (with the chart's
byte-identical copies), and following the conventions on every panel."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.monitoring import (
    CHART_FILES,
    DASHBOARD_NAMES,
    MONITORING,
    build_module,
    dashboard,
    panels,
    selectors,
)

UNITS = {"reqps", "cps", "s", "short", "percentunit", "none"}
# Labels a legend may show: bounded by code or configuration (never pod, instance, ids or paths).
BOUNDED_LABELS = {"outcome", "reason", "status_class", "workflow", "topic", "partition", "target", "kind"}


def _all_panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, p) for name in DASHBOARD_NAMES for p in panels(dashboard(name))]


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name}: {p['title']}", t) for name, p in _all_panels() for t in p["targets"]]


def test_committed_files_are_exactly_what_the_generator_writes() -> None:
    build = build_module()
    stale = [str(path) for path, text in build.outputs().items() if not path.exists() or path.read_text() != text]
    assert stale == [], "run `make dashboards` and commit the result"


def test_the_generators_check_mode_agrees() -> None:
    assert build_module().main(["--check"]) == 0


def test_the_charts_copies_are_byte_identical() -> None:
    for name in DASHBOARD_NAMES:
        ours = (MONITORING / "dashboards" / f"{name}.json").read_bytes()
        assert (CHART_FILES / "dashboards" / f"{name}.json").read_bytes() == ours, name
    assert (CHART_FILES / "alerts.yaml").read_bytes() == (MONITORING / "alerts.yaml").read_bytes()


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_datasource_namespace_and_job_variables(name: str) -> None:
    board = dashboard(name)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in ("namespace", "job"):
        assert variables[var]["type"] == "query"
        assert variables[var]["datasource"]["uid"] == "${datasource}"
        assert variables[var]["query"].startswith("label_values(hookgate_")
        assert variables[var]["includeAll"]
        assert variables[var]["multi"]
    assert board["uid"] == f"hookgate-{name}"
    assert "id" not in board  # importable into any Grafana without clashing


def test_every_panel_has_a_unit_a_description_and_the_datasource_variable() -> None:
    for name, panel in _all_panels():
        where = f"{name}: {panel['title']}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert len(panel.get("description", "")) > 20, where
        assert panel["fieldConfig"]["defaults"].get("unit") in UNITS, where
        assert panel["targets"], where


def test_every_series_is_scoped_to_the_selected_namespace_and_job() -> None:
    for where, target in _targets():
        found = selectors(target["expr"])
        assert found, where
        for sel in found:
            assert sel.metric.startswith("hookgate_"), (where, sel.metric)
            labels = {(label, op, value) for label, op, value in sel.matchers}
            assert ("namespace", "=~", "$namespace") in labels, (where, str(sel))
            assert ("job", "=~", "$job") in labels, (where, str(sel))


def test_every_range_is_the_rate_interval() -> None:
    for where, target in _targets():
        ranges = re.findall(r"\[([^\]]+)\]", target["expr"])
        assert all(r == "$__rate_interval" for r in ranges), (where, ranges)
        if re.search(r"\b(rate|increase)\(", target["expr"]):
            assert ranges, where


def test_legends_show_only_bounded_labels_the_query_keeps() -> None:
    for where, target in _targets():
        legend = target["legendFormat"]
        assert legend, where  # never Grafana's default of every label
        used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
        assert used <= BOUNDED_LABELS, (where, used - BOUNDED_LABELS)
        kept = {
            label.strip() for group in re.findall(r"\bby \(([^)]*)\)", target["expr"]) for label in group.split(",")
        }
        assert used <= kept, (where, "legend label not in the query's by (...)", used - kept)


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    board = dashboard(name)
    taken: set[tuple[int, int]] = set()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(refs), panel["title"]


# What the issue asks each dashboard to show, as the metrics that show it.
REQUIRED = {
    "gateway": {
        "requests by outcome and status class": "hookgate_gateway_requests_total{outcome,status_class}",
        "rejections by reason": 'hookgate_gateway_requests_total{outcome="rejected"}',
        "latency p50/p95/p99": "hookgate_gateway_request_duration_seconds_bucket",
        "Kafka produce latency": "hookgate_gateway_produce_duration_seconds_bucket",
        "failed publishes (503s)": 'hookgate_gateway_requests_total{outcome="failed"}',
        "Kafka readiness": "hookgate_gateway_kafka_ready",
        "in-flight": "hookgate_gateway_requests_in_flight",
        "in-flight limit": "hookgate_gateway_in_flight_limit",
        "shed": 'hookgate_gateway_requests_total{reason="overloaded"}',
        "rate-limited": "hookgate_gateway_requests_total{reason=~rate_limited}",
        "audit queue": "hookgate_gateway_audit_queue_depth",
        "audit drops": "hookgate_gateway_audit_records_dropped_total",
    },
    "consumer": {
        "events consumed": "hookgate_consumer_events_consumed_total",
        "events matched": "hookgate_consumer_events_matched_total",
        "events invalid": "hookgate_consumer_events_invalid_total",
        "deliveries by outcome and workflow": "hookgate_consumer_deliveries_total{workflow,outcome}",
        "action latency": "hookgate_consumer_action_duration_seconds_bucket",
        "end-to-end latency": "hookgate_consumer_end_to_end_seconds_bucket",
        "lag by topic and partition": "hookgate_consumer_lag_records{topic,partition}",
        "retries": "hookgate_consumer_retries_total",
        "dead letters": 'hookgate_consumer_deliveries_total{outcome="deadlettered"}',
        "re-drives": "hookgate_consumer_redrives_total",
        "circuit state": "hookgate_consumer_circuit_state",
        "rebalances": "hookgate_consumer_rebalances_total",
        "assigned partitions": "hookgate_consumer_assigned_partitions",
        "dedupe table size": "hookgate_consumer_dedupe_entries",
        "dedupe restore": "hookgate_consumer_dedupe_restored_records_total",
    },
}


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_panel_the_issue_asks_for_is_there(name: str) -> None:
    exprs = [t["expr"] for p in panels(dashboard(name)) for t in p["targets"]]
    for what, spec in REQUIRED[name].items():
        metric, _, detail = spec.partition("{")
        hits = [e for e in exprs if any(s.metric == metric for s in selectors(e))]
        assert hits, f"{name}: no panel shows {what} ({metric})"
        for part in filter(None, detail.rstrip("}").split(",")):
            if "=" in part:  # a matcher the panel must select on
                label, value = re.split(r"=~?", part)
                value = value.strip('"')
                assert any(re.search(rf'{label}=~?"[^"]*{value}', e) for e in hits), (what, part)
            else:  # a label the panel must break down by
                assert any(re.search(rf"by \([^)]*\b{part}\b", e) for e in hits), (what, part)
