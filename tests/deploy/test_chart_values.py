"""The values schema refuses bad values naming the key; values.yaml documents every key; generated files are fresh."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support import chart

TRIGGER = {"id": "t" * 24, "name": "gh", "tenant": "acme", "verify": {"type": "github", "secrets": ["${GH_SECRET}"]}}
WORKFLOW = {"name": "w", "action": {"type": "http", "url": "http://target.svc:9000/x"}}

# (values, text the error must contain: the key as the user wrote it)
BAD_VALUES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "wrong type": ({"gateway": {"replicaCount": "two"}}, ["/gateway/replicaCount", "want integer"]),
    "unknown top-level key": ({"gatway": {}}, ["'gatway' not allowed"]),
    "unknown nested key": ({"kafka": {"sasl": {"pasword": "x"}}}, ["/kafka/sasl", "'pasword' not allowed"]),
    "unknown security protocol": ({"kafka": {"securityProtocol": "TLS"}}, ["/kafka/securityProtocol"]),
    "bootstrap without a port": ({"kafka": {"bootstrapServers": "kafka"}}, ["/kafka/bootstrapServers"]),
    "literal webhook secret": (
        {"gateway": {"triggers": [{**TRIGGER, "verify": {"type": "github", "secrets": ["hunter2"]}}]}},
        ["/gateway/triggers/0/verify/secrets/0", "does not match pattern"],
    ),
    "unknown key in a trigger": ({"gateway": {"triggers": [{**TRIGGER, "tennant": "x"}]}}, ["'tennant' not allowed"]),
    "trigger id too short": ({"gateway": {"triggers": [{**TRIGGER, "id": "short"}]}}, ["/gateway/triggers/0/id"]),
    "wrong type in gateway settings": (
        {"gateway": {"settings": {"publish_timeout_seconds": "fast"}}},
        ["/gateway/settings/publish_timeout_seconds"],
    ),
    "chart-owned gateway setting": (
        {"gateway": {"settings": {"listen": {"port": 1}}}},
        ["/gateway/settings", "'listen' not allowed"],
    ),
    "unknown key in a workflow action": (
        {
            "consumers": [
                {
                    "name": "c",
                    "start": "earliest",
                    "workflows": [{**WORKFLOW, "action": {**WORKFLOW["action"], "oops": 1}}],
                }
            ]
        },
        ["/consumers/0/workflows/0/action", "'oops' not allowed"],
    ),
    "literal workflow secret": (
        {
            "consumers": [
                {
                    "name": "c",
                    "start": "earliest",
                    "workflows": [{**WORKFLOW, "action": {**WORKFLOW["action"], "secrets": {"t": "x"}}}],
                }
            ]
        },
        ["/consumers/0/workflows/0/action/secrets/t"],
    ),
    "consumer without a name": ({"consumers": [{"replicaCount": 2}]}, ["/consumers/0", "missing property 'name'"]),
    "consumer name not a DNS label": ({"consumers": [{"name": "Payments"}]}, ["/consumers/0/name"]),
    "unknown consumer key": (
        {"consumers": [{"name": "c", "start": "earliest", "replicas": 2}]},
        ["/consumers/0", "'replicas' not allowed"],
    ),
    "chart-owned consumer setting": (
        {"consumers": [{"name": "c", "start": "earliest", "settings": {"group_id": "g"}}]},
        ["/consumers/0/settings", "'group_id' not allowed"],
    ),
    "workers as a consumer setting": (
        {"consumers": [{"name": "c", "start": "earliest", "settings": {"workers": 2}}]},
        ["/consumers/0/settings", "'workers' not allowed"],
    ),
    "no workers": ({"consumers": [{"name": "c", "start": "earliest", "workers": 0}]}, ["/consumers/0/workers"]),
    "secretEnv without a key": (
        {"gateway": {"secretEnv": [{"name": "X", "existingSecret": "s"}]}},
        ["/gateway/secretEnv/0", "missing property 'key'"],
    ),
    "privileged port": ({"gateway": {"containerPort": 80}}, ["/gateway/containerPort"]),
    "bad path type": (
        {"gateway": {"ingress": {"hosts": [{"host": "h", "paths": [{"path": "/", "pathType": "Any"}]}]}}},
        ["/gateway/ingress/hosts/0/paths/0/pathType"],
    ),
    "boolean as a string": ({"networkPolicy": {"enabled": "yes"}}, ["/networkPolicy/enabled", "want boolean"]),
    "interval without a unit": (
        {"metrics": {"serviceMonitor": {"interval": 30}}},
        ["/metrics/serviceMonitor/interval"],
    ),
    "reload interval zero": (
        {"consumerDefaults": {"reloadIntervalSeconds": 0}},
        ["/consumerDefaults/reloadIntervalSeconds"],
    ),
    "bad digest": ({"image": {"digest": "latest"}}, ["/image/digest"]),
    "root uid": ({"podSecurityContext": {"runAsUser": 0}}, ["/podSecurityContext/runAsUser"]),
    # Rules across keys: the templates refuse them, naming the key.
    "SASL without a mechanism": ({"kafka": {"securityProtocol": "SASL_SSL"}}, ["kafka.sasl.mechanism"]),
    "SASL without a Secret": (
        {"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN", "username": "u"}}},
        ["kafka.sasl.existingSecret"],
    ),
    "client certificate without its key": (
        {"kafka": {"securityProtocol": "SSL", "tls": {"existingSecret": "t", "certKey": "tls.crt"}}},
        ["kafka.tls.keyKey"],
    ),
    "topics and topicPattern": (
        {"consumers": [{"name": "c", "start": "earliest", "topics": ["a"], "topicPattern": "^a"}]},
        ["consumers[0].topics"],
    ),
    "two consumers of one name": (
        {"consumers": [{"name": "c", "start": "earliest"}, {"name": "c", "start": "earliest"}]},
        ["consumers[1].name"],
    ),
    "test trigger that does not exist": ({"tests": {"trigger": "nope"}}, ["tests.trigger", "nope"]),
    "HTTPRoute without a Gateway": ({"gateway": {"httpRoute": {"enabled": True}}}, ["gateway.httpRoute.parentRefs"]),
    "autoscaling on nothing": (
        {
            "consumers": [
                {
                    "name": "c",
                    "start": "earliest",
                    "autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": ""},
                }
            ]
        },
        ["consumers[0].autoscaling"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_are_refused_naming_the_key(case: str, tmp_path: Path) -> None:
    values, expected = BAD_VALUES[case]
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    res = chart.helm(*chart.template_args([path]), check=False)
    assert res.returncode != 0, f"{case}: helm template accepted {values}"
    for text in expected:
        assert text in res.stderr, f"{case}: {text!r} not in:\n{res.stderr}"


def test_a_good_values_file_next_to_the_bad_ones_renders(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "gateway": {"triggers": [TRIGGER]},
                "consumers": [{"name": "c", "start": "earliest", "workflows": [WORKFLOW]}],
            }
        )
    )
    assert chart.helm(*chart.template_args([path])).returncode == 0


def chart_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_gen", chart.ROOT / "deploy" / "tools" / "chart_gen.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_schema_and_values_table_are_generated_from_values_yaml() -> None:
    res = subprocess.run(
        [sys.executable, "deploy/tools/chart_gen.py", "--check"], cwd=chart.ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr


def test_every_value_is_documented_and_in_the_table() -> None:
    gen = chart_gen()
    text = (chart.CHART / "values.yaml").read_text()
    docs = gen.documented_keys(text)
    readme = (chart.CHART / "README.md").read_text()
    table = readme[readme.index(gen.TABLE_BEGIN) : readme.index(gen.TABLE_END)]
    leaves = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert len(leaves) > 150
    for key in leaves:
        assert docs[key], key
    assert "gateway.triggers" in leaves
    assert "kafka.createTopics" in leaves


def test_an_undocumented_key_stops_the_generator() -> None:
    gen = chart_gen()
    with pytest.raises(gen.ValuesError, match=r"gateway\.replicas: no '# --' comment"):
        gen.documented_keys("# -- The gateway.\ngateway:\n  # a comment, not a description\n  replicas: 1\n")


def test_the_schema_refuses_unknown_keys_at_every_level() -> None:
    schema = yaml.safe_load((chart.CHART / "values.schema.json").read_text())
    open_objects: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(where)
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}/{i}")

    walk(schema, "")
    assert not open_objects
