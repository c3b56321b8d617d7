"""Every ci/*-values.yaml scenario lints, renders, and renders only objects the API server would accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import hookgate
from tests.support import chart

SCENARIO_IDS = [p.name.removesuffix("-values.yaml") for p in chart.SCENARIOS]
LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


def test_the_scenarios_the_issue_names_exist() -> None:
    assert set(SCENARIO_IDS) >= {"minimal", "production", "consumer-groups", "sasl-ssl", "existing-configmaps"}


def test_chart_version_follows_the_project() -> None:
    meta = yaml.safe_load((chart.CHART / "Chart.yaml").read_text())
    assert meta["appVersion"] == hookgate.__version__
    image = next(o for o in chart.render() if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert image["image"].endswith(f":{meta['appVersion']}")


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_lint_strict(scenario: Path) -> None:
    res = chart.helm("lint", "--strict", str(chart.CHART), "-f", str(scenario), "--kube-version", "1.30.0")
    assert "0 chart(s) failed" in res.stdout


def validate(obj: dict[str, Any]) -> str:
    """'kubernetes' or 'crd' (which schema checked it); raises on the first violation."""
    crd = chart.crd_schemas().get((obj["apiVersion"], obj["kind"]))
    if crd is not None:
        errors = sorted(crd.validator.iter_errors(obj), key=lambda e: e.json_path)
        assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: " + "; ".join(
            f"{e.json_path}: {e.message}" for e in errors
        )
        return "crd"
    kubernetes_validate.validate(obj, chart.KUBERNETES_VERSION, strict=True)
    return "kubernetes"


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_every_object_is_valid(scenario: Path) -> None:
    objects = chart.render([scenario])
    checked = {"kubernetes": 0, "crd": 0}
    for obj in objects:
        checked[validate(obj)] += 1
    assert checked["kubernetes"] + checked["crd"] == len(objects) >= 10
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    crd_kinds = {o["kind"] for o in objects} & {"ServiceMonitor", "PrometheusRule", "HTTPRoute"}
    assert checked["crd"] == sum(1 for o in objects if o["kind"] in crd_kinds)


def test_monitoring_and_routes_are_rendered_where_enabled() -> None:
    prod = chart.render([chart.CHART / "ci" / "production-values.yaml"])
    monitoring = sorted(o["kind"] for o in prod if o["apiVersion"].startswith("monitoring.coreos.com"))
    assert monitoring == ["PrometheusRule", "ServiceMonitor"]
    groups = chart.of_kind(chart.render([chart.CHART / "ci" / "consumer-groups-values.yaml"]), "HTTPRoute")
    assert len(groups) == 1
    assert not [o for o in chart.render() if o["apiVersion"].startswith("monitoring.coreos.com")]


def test_the_crd_validation_refuses_unknown_fields() -> None:
    monitor = next(
        o for o in chart.render([chart.CHART / "ci" / "production-values.yaml"]) if o["kind"] == "ServiceMonitor"
    )
    monitor["spec"]["endpoints"][0]["scrapeEvery"] = "30s"
    with pytest.raises(AssertionError, match="scrapeEvery"):
        validate(monitor)
    rule = next(
        o for o in chart.render([chart.CHART / "ci" / "production-values.yaml"]) if o["kind"] == "PrometheusRule"
    )
    rule["spec"]["groups"][0]["rules"][0]["for"] = 5
    with pytest.raises(AssertionError, match="for"):
        validate(rule)


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_standard_labels_everywhere(scenario: Path) -> None:
    for obj in chart.render([scenario]):
        labels = obj["metadata"]["labels"]
        missing = [k for k in LABELS if k not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/part-of"] == "hookgate"
    for obj, _ in chart.pod_specs(chart.render([scenario])):
        assert all(k in chart.pod_labels(obj) for k in LABELS)


def test_each_consumer_is_its_own_deployment_configmap_and_group() -> None:
    objects = chart.render([chart.CHART / "ci" / "consumer-groups-values.yaml"])
    deployments = {
        o["metadata"]["labels"]["hookgate/consumer"]: o
        for o in chart.of_kind(objects, "Deployment")
        if o["metadata"]["labels"]["app.kubernetes.io/component"] == "consumer"
    }
    assert set(deployments) == {"orders", "ci", "archive"}
    configs = {
        o["metadata"]["name"]: yaml.safe_load(o["data"]["config.yaml"])
        for o in chart.of_kind(objects, "ConfigMap")
        if "config.yaml" in o.get("data", {})
    }
    groups = set()
    for name, dep in deployments.items():
        spec = dep["spec"]["template"]["spec"]
        cm = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "config")
        config = configs[cm]
        groups.add(config["consumer"]["group_id"])
        assert spec["serviceAccountName"] == dep["metadata"]["name"]
        assert [w["name"] for w in config["workflows"]], name
    assert groups == {"hookgate-orders", "ci-pipelines", "hookgate-archive"}
    ci = deployments["ci"]["spec"]["template"]["spec"]["containers"][0]
    assert ci["image"] == "docker.io/example/hookgate-ci-handlers:2024.06"
    assert ci["args"][-2:] == ["--handlers", "ci_handlers.pipelines:consumer"]
    orders = configs[deployments["orders"]["metadata"]["name"]]["consumer"]
    assert orders["retry"]["attempts"] == 8
    assert orders["topics"] == ["hookgate.shop"]
    assert orders["workers"] == 2  # consumers[].workers: consumer.workers of the pod's main process
    assert configs[deployments["archive"]["metadata"]["name"]]["consumer"]["workers"] == 1


def test_config_changes_roll_the_gateway_and_trigger_and_workflow_changes_reload() -> None:
    base = chart.CHART / "ci" / "minimal-values.yaml"

    def annotations(*sets: str) -> dict[str, str]:
        return {
            o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for o in chart.of_kind(chart.render([base], sets), "Deployment")
        }

    before = annotations()
    gateway_change = annotations("gateway.settings.publish_timeout_seconds=3")
    assert gateway_change["hg-hookgate-gateway"] != before["hg-hookgate-gateway"]
    # The gateway reloads its triggers from the mounted file: a triggers change alone rolls nothing ...
    trigger_change = annotations("gateway.triggers[0].tenant=globex")
    assert trigger_change["hg-hookgate-gateway"] == before["hg-hookgate-gateway"]
    # ... unless reloading is off.
    trigger_rolled = annotations("gateway.triggers[0].tenant=globex", "gateway.reloadTriggers=false")
    assert trigger_rolled["hg-hookgate-gateway"] != before["hg-hookgate-gateway"]
    gateway_config = yaml.safe_load(
        next(
            o
            for o in chart.of_kind(chart.render([base], ["gateway.triggers[0].tenant=globex"]), "ConfigMap")
            if o["metadata"]["name"] == "hg-hookgate-gateway"
        )["data"]["config.yaml"]
    )
    assert gateway_config["triggers"][0]["tenant"] == "globex"
    assert gateway_config["gateway"]["reload_interval_seconds"] == 10
    workflow_change = annotations("consumers[0].workflows[0].action.url=http://other.svc:9000/x")
    assert workflow_change["hg-hookgate-consumer-deploys"] == before["hg-hookgate-consumer-deploys"]
    rolled = annotations(
        "consumers[0].workflows[0].action.url=http://other.svc:9000/x",
        "consumers[0].reloadWorkflows=false",
    )
    assert rolled["hg-hookgate-consumer-deploys"] != before["hg-hookgate-consumer-deploys"]
    changed = chart.render([base], ["consumers[0].workflows[0].action.url=http://other.svc:9000/x"])
    config = yaml.safe_load(
        next(o for o in chart.of_kind(changed, "ConfigMap") if o["metadata"]["name"] == "hg-hookgate-consumer-deploys")[
            "data"
        ]["config.yaml"]
    )
    assert config["workflows"][0]["action"]["url"] == "http://other.svc:9000/x"
    assert config["consumer"]["reload_interval_seconds"] == 10


def test_runbook_links_follow_runbook_base_url() -> None:
    def links(*sets: str) -> list[str]:
        objects = chart.render(sets=["metrics.prometheusRule.enabled=true", *sets])
        (rule,) = chart.of_kind(objects, "PrometheusRule")
        return [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]

    default = links()
    moved = links("metrics.prometheusRule.runbookBaseUrl=https://wiki.example.com/ops/hookgate/")
    assert all("/docs/runbooks.md#" in url for url in default)
    assert moved == [f"https://wiki.example.com/ops/hookgate#{url.split('#')[1]}" for url in default]


def test_gateway_workers_become_gateway_workers_beside_the_ops_listener() -> None:
    base = chart.CHART / "ci" / "minimal-values.yaml"

    def gateway_config(*sets: str) -> dict[str, Any]:
        objects = chart.render([base], sets)
        cm = next(
            o
            for o in chart.of_kind(objects, "ConfigMap")
            if o["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway" and "config.yaml" in o["data"]
        )
        loaded: dict[str, Any] = yaml.safe_load(cm["data"]["config.yaml"])["gateway"]
        return loaded

    assert gateway_config()["workers"] == 1
    two = gateway_config("gateway.workers=2")
    assert two["workers"] == 2
    assert two["ops_listen"]["port"] != two["listen"]["port"]  # hookgate needs ops_listen for workers above 1
