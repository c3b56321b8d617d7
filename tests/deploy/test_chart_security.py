"""Assertions on the rendered manifests of every scenario: hardened pods, secrets only by reference, probes at
ports and paths the services serve, and NetworkPolicies that select the right pods and open only what is needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr

from hookgate.consumer.config import ConsumerConfig
from hookgate.core.config import load_model
from hookgate.core.health import add_ops_routes
from hookgate.gateway.config import GatewayConfig
from tests.support import chart

SCENARIO_IDS = [p.name.removesuffix("-values.yaml") for p in chart.SCENARIOS]
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
FILE_REF = re.compile(r"file:(/[^\s'\"]+)")


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def component(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_every_container_is_hardened(scenario: Path) -> None:
    pods = list(chart.pod_specs(chart.render([scenario])))
    assert pods
    for obj, spec in pods:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], where
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, where
        assert pod_ctx["seccompProfile"]["type"] == "RuntimeDefault", where
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in containers(spec):
            ctx = c["securityContext"]
            assert ctx["runAsNonRoot"] is True, where
            assert isinstance(ctx["runAsUser"], int), where
            assert ctx["runAsUser"] > 0, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx.get("privileged") is False, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert not ctx["capabilities"].get("add"), where
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), where
            # The only writable place is /tmp, an emptyDir.
            tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in volumes[tmp["name"]], where
            others = [m for m in c["volumeMounts"] if m["mountPath"] != "/tmp"]
            assert all(m.get("readOnly") is True for m in others), where


def service_configs(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    """(Deployment, its parsed config file, kind) for every Deployment whose ConfigMap the chart renders."""
    maps = {o["metadata"]["name"]: o for o in chart.of_kind(objects, "ConfigMap")}
    for dep in chart.of_kind(objects, "Deployment"):
        spec = dep["spec"]["template"]["spec"]
        config = next(v["configMap"] for v in spec["volumes"] if v["name"] == "config")
        if config["name"] in maps:
            text = maps[config["name"]]["data"][config["items"][0]["key"]]
            yield dep, yaml.safe_load(text), component(dep)


def served_paths() -> set[str]:
    app = web.Application()
    add_ops_routes(app, CollectorRegistry(), lambda: (True, {}))
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_probes_point_at_the_port_and_paths_the_service_serves(scenario: Path) -> None:
    objects = chart.render([scenario])
    paths = served_paths()
    assert {"/healthz", "/readyz"} <= paths
    configs = {d["metadata"]["name"]: (cfg, kind) for d, cfg, kind in service_configs(objects)}
    for dep in chart.of_kind(objects, "Deployment"):
        container = dep["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe_name, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            probe = container[probe_name]["httpGet"]
            assert probe["path"] == path
            assert probe["path"] in paths
            assert probe["port"] in ports
        if dep["metadata"]["name"] in configs:
            cfg, kind = configs[dep["metadata"]["name"]]
            listen = cfg[kind]["listen"]
            assert listen["port"] == ports["http"], dep["metadata"]["name"]
            assert listen["host"] == "0.0.0.0"
            if kind == "gateway":  # the probes and scrapes go to the ops listener, a port of its own
                assert cfg[kind]["ops_listen"] == {"host": "0.0.0.0", "port": ports["ops"]}
                assert {container[p]["httpGet"]["port"] for p in ("startupProbe", "readinessProbe")} == {"ops"}
    # Services send to the named port of the pods they select.
    deployments = chart.of_kind(objects, "Deployment")
    for svc in chart.of_kind(objects, "Service"):
        selected = [
            d for d in deployments if chart.selects({"matchLabels": svc["spec"]["selector"]}, chart.pod_labels(d))
        ]
        assert len(selected) == 1, svc["metadata"]["name"]
        names = {p["name"] for p in selected[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= names


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_termination_grace_outlasts_prestop_and_the_service_shutdown_grace(scenario: Path) -> None:
    objects = chart.render([scenario])
    checked = 0
    for dep, cfg, kind in service_configs(objects):
        spec = dep["spec"]["template"]["spec"]
        pause = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
        assert pause > 0
        assert spec["terminationGracePeriodSeconds"] > pause + cfg[kind]["shutdown_grace_seconds"]
        checked += 1
    assert checked == len(chart.of_kind(objects, "ConfigMap")) - sum(
        1 for o in chart.of_kind(objects, "ConfigMap") if component(o) == "metrics"
    )


def secret_values(node: Any) -> Iterator[str]:
    if isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from secret_values(getattr(node, name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from secret_values(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from secret_values(value)


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_no_secret_value_in_any_configmap(scenario: Path, tmp_path: Path) -> None:
    """Load every rendered config as the service does, with each ${ENV} and file: resolved to a marker: every
    secret field must hold a marker (a reference the pod satisfies from a Secret), never a value of its own."""
    objects = chart.render([scenario])
    found = 0
    for dep, _, kind in service_configs(objects):
        spec = dep["spec"]["template"]["spec"]
        container = spec["containers"][0]
        from_secrets = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        secret_volumes = {v["name"] for v in spec["volumes"] if "secret" in v}
        secret_dirs = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in secret_volumes]
        maps = {o["metadata"]["name"]: o for o in chart.of_kind(objects, "ConfigMap")}
        config_map = next(v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "config")
        text = maps[config_map]["data"]["config.yaml"]
        env = {name: f"env-marker:{name}" for name in ENV_REF.findall(text)}
        for path in FILE_REF.findall(text):
            target = tmp_path / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"file-marker:{path}")
        data = yaml.safe_load(FILE_REF.sub(lambda m: f"file:{tmp_path}{m.group(1)}", text))
        model = load_model(GatewayConfig if kind == "gateway" else ConsumerConfig, data, config_map, env=env)
        for value in secret_values(model):
            found += 1
            if value.startswith("env-marker:"):
                assert value.removeprefix("env-marker:") in from_secrets, f"{config_map}: {value} not from a Secret"
            elif value.startswith("file-marker:"):
                path = value.removeprefix("file-marker:")
                assert any(path.startswith(d + "/") for d in secret_dirs), f"{config_map}: {path} not a Secret mount"
            else:
                # Header templates are secret-safe: they carry {secrets.NAME} placeholders, not values.
                assert "{secrets." in value, f"{config_map}: a secret field holds a literal value"
    if scenario.name != "existing-configmaps-values.yaml":
        assert found >= 1
    else:
        assert not [o for o in chart.of_kind(objects, "ConfigMap") if component(o) != "metrics"]


def test_sasl_and_tls_material_is_mounted_from_the_secrets() -> None:
    objects = chart.render([chart.CHART / "ci" / "sasl-ssl-values.yaml"])
    for dep, cfg, _ in service_configs(objects):
        spec = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["kafka-sasl"]["secret"]["secretName"] == "hookgate-kafka-user"
        assert volumes["kafka-tls"]["secret"]["secretName"] == "hookgate-kafka-tls"
        kafka = cfg["kafka"]
        assert kafka["security_protocol"] == "SASL_SSL"
        assert kafka["sasl_password"] == "file:/var/run/secrets/hookgate/kafka-sasl/password"
        assert kafka["sasl_username"] == "${KAFKA_SASL_USERNAME}"
        assert kafka["ssl_cafile"].startswith("/var/run/secrets/hookgate/kafka-tls/")
        env = {e["name"]: e for e in spec["containers"][0]["env"]}
        assert env["KAFKA_SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {
            "name": "hookgate-kafka-user",
            "key": "username",
        }


def policy_for(policies: list[dict[str, Any]], obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in policies if chart.selects(p["spec"]["podSelector"], chart.pod_labels(obj))]


def ports(rule: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports", [])}


@pytest.mark.parametrize("scenario", chart.SCENARIOS, ids=SCENARIO_IDS)
def test_network_policies_select_the_right_pods_and_open_only_what_hookgate_needs(scenario: Path) -> None:
    objects = chart.render([scenario])
    values = yaml.safe_load(scenario.read_text())
    policies = chart.of_kind(objects, "NetworkPolicy")
    deployments = chart.of_kind(objects, "Deployment")
    assert len(policies) == len(deployments)
    kafka_ports = {(int(server.rsplit(":", 1)[1]), "TCP") for server in values["kafka"]["bootstrapServers"].split(",")}
    for dep in deployments:
        selected = policy_for(policies, dep)
        assert len(selected) == 1, dep["metadata"]["name"]
        policy = selected[0]
        # The policy selects this Deployment's pods and no other component's.
        others = [
            d for d in deployments if d is not dep and chart.selects(policy["spec"]["podSelector"], chart.pod_labels(d))
        ]
        assert not others
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        container_ports = {
            p["name"]: p["containerPort"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        for rule in policy["spec"]["ingress"]:
            assert len(ports(rule)) == 1
            assert ports(rule) <= {(p, "TCP") for p in container_ports.values()}
        # Scrapes reach the port that serves /metrics (the gateway's ops listener, a consumer's one port).
        metrics_port = container_ports.get("ops", container_ports["http"])
        monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        scrapes = [r for r in policy["spec"]["ingress"] if monitoring in r.get("from", [])]
        assert [ports(r) for r in scrapes] == [{(metrics_port, "TCP")}], "metrics from monitoring"
        egress = policy["spec"]["egress"]
        assert all(rule.get("ports") for rule in egress), "no egress rule may open every port"
        assert {(53, "UDP"), (53, "TCP")} <= set().union(*(ports(r) for r in egress))
        assert any(ports(r) == kafka_ports for r in egress)
        if component(dep) == "consumer":
            assert not [r for r in policy["spec"]["ingress"] if "from" not in r], (
                "consumers take no traffic but scrapes"
            )


def test_gateway_ingress_from_restricted_peers_admits_the_test_pod() -> None:
    objects = chart.render([chart.CHART / "ci" / "production-values.yaml"])
    gateway = next(d for d in chart.of_kind(objects, "Deployment") if component(d) == "gateway")
    policy = policy_for(chart.of_kind(objects, "NetworkPolicy"), gateway)[0]
    webhook_rule = policy["spec"]["ingress"][0]
    peers = webhook_rule["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in peers
    test_pod = chart.of_kind(objects, "Pod")[0]
    assert any("podSelector" in p and chart.selects(p["podSelector"], chart.pod_labels(test_pod)) for p in peers)
    # Kafka only at the configured block.
    kafka_rule = next(r for r in policy["spec"]["egress"] if (9092, "TCP") in ports(r))
    assert kafka_rule["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_consumer_egress_reaches_the_ports_of_its_workflows() -> None:
    objects = chart.render([chart.CHART / "ci" / "production-values.yaml"])
    consumer = next(d for d in chart.of_kind(objects, "Deployment") if component(d) == "consumer")
    policy = policy_for(chart.of_kind(objects, "NetworkPolicy"), consumer)[0]
    all_ports = set().union(*(ports(r) for r in policy["spec"]["egress"]))
    # https://deployer.example.com/deploy and http://billing.finance.svc:8080/events
    assert {(443, "TCP"), (8080, "TCP")} <= all_ports
    sasl = chart.render([chart.CHART / "ci" / "sasl-ssl-values.yaml"])
    consumer = next(d for d in chart.of_kind(sasl, "Deployment") if component(d) == "consumer")
    policy = policy_for(chart.of_kind(sasl, "NetworkPolicy"), consumer)[0]
    workflow_rule = next(r for r in policy["spec"]["egress"] if (8443, "TCP") in ports(r))
    assert workflow_rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]


def test_the_default_install_needs_no_secret_and_has_a_network_policy() -> None:
    objects = chart.render()
    assert not chart.of_kind(objects, "Secret")
    assert len(chart.of_kind(objects, "NetworkPolicy")) == 1
