"""The monitoring files (dashboards, alert rules, runbooks) as data, and the PromQL they hold, for tests.

Selectors are read with a small parser fit for the expressions hookgate writes (``name{label op "value", ...}``);
promtool is what proves an expression parses (see :func:`promtool`).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
CHART_FILES = REPO / "deploy" / "helm" / "hookgate" / "files"
RUNBOOKS = REPO / "docs" / "runbooks.md"
DASHBOARD_NAMES = ("gateway", "consumer")

# Grafana's variables, replaced by what Prometheus would get when every value is selected.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*", "$job": ".*", "$workflow": ".*"}

_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
# Words that precede "(" or are PromQL keywords, never metric names.
_NOT_METRICS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "delta", "irate", "absent",
    "histogram_quantile", "by", "without", "on", "ignoring", "group", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "le", "topk", "bottomk", "label_values",
}  # fmt: skip


def build_module() -> ModuleType:
    """deploy/monitoring/build.py, imported from its path (it is a script, not part of the package)."""
    name = "hookgate_monitoring_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, MONITORING / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def dashboard(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MONITORING / "dashboards" / f"{name}.json").read_text())
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-row panels (rows are not collapsed, so every panel is at the top level)."""
    return [p for p in board["panels"] if p["type"] != "row"]


@dataclass(frozen=True)
class Expression:
    where: str  # "gateway: Requests by outcome and status class" or "alert HookgateTargetDown"
    expr: str  # PromQL as Prometheus gets it (Grafana variables replaced)
    raw: str  # as written in the file


def dashboard_expressions() -> list[Expression]:
    found = []
    for name in DASHBOARD_NAMES:
        for panel in panels(dashboard(name)):
            for target in panel["targets"]:
                raw = target["expr"]
                found.append(Expression(f"{name}: {panel['title']}", substitute(raw), raw))
    return found


def substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def alert_expressions() -> list[Expression]:
    return [Expression(f"alert {r['alert']}", r["expr"], r["expr"]) for r in alert_rules()]


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)

    def matches(self, labels: dict[str, str]) -> bool:
        """Prometheus' semantics: regexes are anchored, a missing label is the empty string."""
        for label, op, value in self.matchers:
            have = labels.get(label, "")
            hit = re.fullmatch(value, have) is not None if op in ("=~", "!~") else have == value
            if hit != (op in ("=", "=~")):
                return False
        return True

    def __str__(self) -> str:
        inner = ", ".join(f'{label}{op}"{value}"' for label, op, value in self.matchers)
        return f"{self.metric}{{{inner}}}"


def selectors(expr: str) -> list[Selector]:
    """The series selectors of ``expr`` (metric name plus matchers), skipping functions and keywords."""
    found = []
    # Drop what sits inside by (...)/on (...) etc. and range brackets, so label lists are not read as metrics.
    cleaned = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)
    for match in _SELECTOR.finditer(cleaned):
        name, braces = match.group(1), match.group(2)
        rest = cleaned[match.end() :].lstrip()
        if name in _NOT_METRICS or (rest.startswith("(") and not braces) or re.fullmatch(r"[0-9.e]+", name):
            continue
        matchers = tuple(_MATCHER.findall(braces or ""))
        found.append(Selector(name, matchers))
    return found


def promtool() -> Path:
    """promtool, installed by deploy/tools/promtool.sh on first use; raises (never skips) when that fails."""
    script = REPO / "deploy" / "tools" / "promtool.sh"
    proc = subprocess.run(
        ["bash", str(script), "--print-path"], capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"deploy/tools/promtool.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return Path(proc.stdout.strip().splitlines()[-1])


def run_promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool()), *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, spaces to '-', punctuation dropped."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """``## `` sections of docs/runbooks.md by their anchor, with their text."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in RUNBOOKS.read_text().splitlines():
        if line.startswith("## "):
            current = github_anchor(line[3:])
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections
