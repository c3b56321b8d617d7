"""The chart's admin API values: off by default; on, its own container and Service port, the tokens Secret
mounted, the NetworkPolicy rule, the rendered gateway.admin section; never routed by the Ingress."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import yaml

from tests.support import chart

ON = ("gateway.admin.enabled=true", "gateway.admin.tokensSecret=hookgate-admin-tokens")


def gateway_objects(sets: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    objects = chart.render(sets=sets)
    out = {}
    for kind in ("Deployment", "Service", "NetworkPolicy", "ConfigMap"):
        matches = [o for o in chart.of_kind(objects, kind) if o["metadata"]["name"].endswith("-gateway")]
        if matches:
            out[kind] = matches[0]
    return out


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return c


def config(configmap: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(configmap["data"]["config.yaml"])
    return data


def test_off_by_default() -> None:
    objs = gateway_objects()
    assert "admin" not in config(objs["ConfigMap"])["gateway"]
    assert "admin" not in {p["name"] for p in container(objs["Deployment"])["ports"]}
    assert "admin" not in {p["name"] for p in objs["Service"]["spec"]["ports"]}


def test_enabled() -> None:
    objs = gateway_objects(ON)
    admin = config(objs["ConfigMap"])["gateway"]["admin"]
    assert admin == {"listen": {"host": "0.0.0.0", "port": 8090}, "tokens_file": "/etc/hookgate/admin/tokens.yaml"}
    c = container(objs["Deployment"])
    assert {"name": "admin", "containerPort": 8090, "protocol": "TCP"} in c["ports"]
    assert {"name": "admin-tokens", "mountPath": "/etc/hookgate/admin", "readOnly": True} in c["volumeMounts"]
    volumes = {v["name"]: v for v in objs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["admin-tokens"]["secret"]["secretName"] == "hookgate-admin-tokens"
    assert volumes["admin-tokens"]["secret"]["items"] == [{"key": "tokens.yaml", "path": "tokens.yaml"}]
    assert {"name": "admin", "port": 8090, "targetPort": "admin", "protocol": "TCP"} in objs["Service"]["spec"]["ports"]
    rules = [r for r in objs["NetworkPolicy"]["spec"]["ingress"] if r["ports"][0]["port"] == 8090]
    assert rules == [{"ports": [{"port": 8090, "protocol": "TCP"}], "from": [{"podSelector": {}}]}]
    for obj in objs.values():
        kubernetes_validate.validate(obj, chart.KUBERNETES_VERSION, strict=True)


def test_allow_from_and_settings() -> None:
    objs = gateway_objects(
        (
            *ON,
            "gateway.admin.port=9443",
            "gateway.admin.allowFrom[0].namespaceSelector.matchLabels.team=platform",
            "gateway.admin.settings.openapi_public=false",
        )
    )
    admin = config(objs["ConfigMap"])["gateway"]["admin"]
    assert admin["listen"]["port"] == 9443
    assert admin["openapi_public"] is False
    rules = [r for r in objs["NetworkPolicy"]["spec"]["ingress"] if r["ports"][0]["port"] == 9443]
    assert rules[0]["from"] == [{"namespaceSelector": {"matchLabels": {"team": "platform"}}}]


def test_the_ingress_never_routes_the_admin_port() -> None:
    objects = chart.render(sets=(*ON, "gateway.ingress.enabled=true"))
    assert chart.of_kind(objects, "Ingress")
    for ingress in chart.of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["port"] != {"name": "admin"}
                assert path["backend"]["service"]["port"].get("number") != 8090


def test_tokens_secret_is_required() -> None:
    res = chart.helm(*chart.template_args(sets=["gateway.admin.enabled=true"]), check=False)
    assert res.returncode != 0
    assert "gateway.admin.tokensSecret" in res.stderr


def test_port_must_be_its_own() -> None:
    res = chart.helm(*chart.template_args(sets=[*ON, "gateway.admin.port=9090"]), check=False)
    assert res.returncode != 0
    assert "gateway.admin.port" in res.stderr
