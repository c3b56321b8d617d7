"""The alert rules and every PromQL expression of the dashboards, checked by promtool (Debian's prometheus
package, unpacked by deploy/tools/promtool.sh; a failure to install it fails these tests, never skips them),
and the alerts' labels, annotations and runbook sections."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.monitoring import (
    MONITORING,
    Expression,
    alert_expressions,
    alert_rules,
    dashboard_expressions,
    github_anchor,
    run_promtool,
    runbook_sections,
    selectors,
)

RUNBOOK_BASE = "https://github.com/hookgate/hookgate/blob/main/docs/runbooks.md#"
UNIT_TESTS = sorted((MONITORING / "tests").glob("*.yaml"))

# The alerts the issue asks for, by what they watch.
REQUIRED_ALERTS = {
    "gateway 5xx ratio": "HookgateGateway5xxRatioHigh",
    "gateway p99 over a threshold": "HookgateGatewayLatencyHigh",
    "publishes failing": "HookgateGatewayPublishFailing",
    "Kafka not ready": "HookgateGatewayKafkaNotReady",
    "requests shed": "HookgateGatewayRequestsShed",
    "requests failing inside the handler": "HookgateGatewayHandlerErrors",
    "connections refused at the connection cap": "HookgateGatewayConnectionsRefused",
    "connections closed by the head deadline": "HookgateGatewayHeadTimeouts",
    "consumer lag growing": "HookgateConsumerLagGrowing",
    "dead-letter rate": "HookgateConsumerDeadLetters",
    "circuit breaker open": "HookgateConsumerCircuitOpen",
    "consumer not assigned any partition": "HookgateConsumerNoPartitions",
    "scrape target down": "HookgateTargetDown",
    "gateway target absent": "HookgateGatewayAbsent",
    "consumer target absent": "HookgateConsumerAbsent",
}


def test_promtool_check_rules_passes() -> None:
    proc = run_promtool("check", "rules", str(MONITORING / "alerts.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS, "no promtool unit tests under deploy/monitoring/tests"
    proc = run_promtool("test", "rules", *map(str, UNIT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(UNIT_TESTS), proc.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests really compare: the same test expecting the healthy case to fire fails."""
    test = yaml.safe_load((MONITORING / "tests" / "gateway.yaml").read_text())
    test["rule_files"] = [str(MONITORING / "alerts.yaml")]
    silent = next(t for t in test["tests"] if t["name"].startswith("kafka not ready stays silent"))
    silent["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    test["tests"] = [silent]
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(test))
    proc = run_promtool("test", "rules", str(path))
    assert proc.returncode != 0
    assert "HookgateGatewayKafkaNotReady" in proc.stdout + proc.stderr


def test_every_alert_fires_in_one_unit_test_and_stays_silent_in_another() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown silent"


def test_the_issues_alerts_are_there() -> None:
    names = {r["alert"] for r in alert_rules()}
    assert set(REQUIRED_ALERTS.values()) <= names


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    sections = runbook_sections()
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        assert notes["summary"].strip(), name
        assert notes["description"].strip(), name
        assert notes["runbook_url"] == RUNBOOK_BASE + github_anchor(name), name
        body = sections.get(github_anchor(name))
        assert body is not None, f"docs/runbooks.md has no section for {name}"
        for part in ("**What it means.**", "**What to check.**", "**What to do.**"):
            assert part in body, (name, part)


def test_every_runbook_section_belongs_to_an_alert() -> None:
    anchors = {github_anchor(r["alert"]) for r in alert_rules()}
    assert set(runbook_sections()) == anchors


def test_alerts_name_only_hookgate_metrics_and_up() -> None:
    for expr in alert_expressions():
        for sel in selectors(expr.expr):
            assert sel.metric.startswith("hookgate_") or sel.metric == "up", (expr.where, sel.metric)


def _check_parse(expressions: list[Expression], tmp_path: Path) -> tuple[int, str]:
    """promtool check rules on ``expressions`` written as recording rules: a non-zero exit is a parse error."""
    rules = [{"record": f"hookgate:check:{i}", "expr": e.expr} for i, e in enumerate(expressions)]
    path = tmp_path / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-expressions", "rules": rules}]}))
    proc = run_promtool("check", "rules", str(path))
    return proc.returncode, proc.stdout + proc.stderr


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) > 30
    assert all("$" not in e.expr for e in expressions), "a Grafana variable left unsubstituted"
    code, output = _check_parse(expressions, tmp_path)
    assert code == 0, output
    assert f"SUCCESS: {len(expressions)} rules found" in output


@pytest.mark.parametrize(
    "broken",
    [
        "sum(rate(hookgate_gateway_requests_total[5m])",  # unbalanced
        'sum by (reason) (rate(hookgate_gateway_requests_total{outcome="rejected"}))',  # rate() without a range
        "sum(rate(hookgate_consumer_retries_total[$__rate_interval]))",  # a Grafana variable left in
    ],
)
def test_the_parse_check_refuses_a_broken_expression(broken: str, tmp_path: Path) -> None:
    code, output = _check_parse([Expression("broken", broken, broken)], tmp_path)
    assert code != 0, output
