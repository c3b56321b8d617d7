"""The Helm chart under test: its tools (installed by deploy/tools/install.sh), rendering and schema checks."""

from __future__ import annotations

import copy
import functools
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "hookgate"
INSTALL = ROOT / "deploy" / "tools" / "install.sh"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBERNETES_VERSION = "1.30.0"
RELEASE = "hg"
NAMESPACE = "hooks"


class ToolMissing(Exception):
    """deploy/tools/install.sh could not provide a tool; the message has its output."""


def install(what: str) -> list[str]:
    """Run ``install.sh WHAT`` (a no-op when the tool is already there) and return the lines it printed."""
    res = subprocess.run(["bash", str(INSTALL), what], capture_output=True, text=True, timeout=1500, check=False)
    if res.returncode != 0:
        raise ToolMissing(f"deploy/tools/install.sh {what} failed ({res.returncode}):\n{res.stderr}{res.stdout}")
    return [line for line in res.stdout.splitlines() if line.strip()]


@functools.cache
def helm_binary() -> str:
    return install("helm")[-1]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{res.stderr}{res.stdout}")
    return res


def template_args(values: Iterable[Path] = (), sets: Iterable[str] = (), chart: Path = CHART) -> list[str]:
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", KUBERNETES_VERSION]
    for v in values:
        args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    return args


@functools.cache
def _render(values: tuple[Path, ...], sets: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    out = helm(*template_args(values, sets)).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def render(values: Iterable[Path] = (), sets: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders (deep copies: callers may change them)."""
    return copy.deepcopy(list(_render(tuple(values), tuple(sets))))


def of_kind(objects: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_specs(objects: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod spec) of every Deployment and Pod."""
    for o in objects:
        if o["kind"] == "Deployment":
            yield o, o["spec"]["template"]["spec"]
        elif o["kind"] == "Pod":
            yield o, o["spec"]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Deployment":
        return dict(obj["spec"]["template"]["metadata"]["labels"])
    return dict(obj["metadata"]["labels"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, vals = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in vals,
            "NotIn": key not in labels or labels[key] not in vals,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class CrdSchema:
    group: str
    kind: str
    version: str
    validator: jsonschema.Draft202012Validator


def _strict(node: Any) -> Any:
    """Unknown fields become errors, as the API server's strict field validation makes them."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@functools.cache
def crd_schemas() -> dict[tuple[str, str], CrdSchema]:
    """The CRD schemas of ServiceMonitor, PrometheusRule, PodMonitor and HTTPRoute, keyed (apiVersion, kind),
    from the modules install.sh downloads (never committed)."""
    out: dict[tuple[str, str], CrdSchema] = {}
    for path in install("crds"):
        crd = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            # metadata is validated by the API server itself, not by the CRD schema.
            schema["properties"]["metadata"] = {"type": "object"}
            out[(f"{group}/{version['name']}", kind)] = CrdSchema(
                group, kind, version["name"], jsonschema.Draft202012Validator(schema)
            )
    return out
