"""Every snippet of docs/consumers.md runs: the team's files are written out and their tests run with pytest,
YAML is validated by the config models (and the chart's schema), commands are parsed by the CLI, and the
documented outputs are what the commands print."""

from __future__ import annotations

import copy
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml

from hookgate.cli.main import app as cli
from hookgate.consumer.config import ConsumerConfig
from hookgate.consumer.workflows.match import describe
from hookgate.consumer.workflows.subscriptions import WorkflowConfig
from hookgate.core.config import load_model
from hookgate.gateway.config import GatewayConfig

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "consumers.md"
ENV = {
    "CI_TOKEN": "t",
    "JENKINS_JOB_TOKEN": "j",
    "GITHUB_TOKEN": "g",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/x",
}
ENV |= {"N8N_KEY": "n"}
STUB_CONSUMER: dict[str, Any] = {"group_id": "docs", "topics": ["hookgate.acme"]}
STUB_ACTION = {"type": "http", "url": "http://127.0.0.1:9/x"}


@dataclass(frozen=True)
class Block:
    lang: str
    info: str
    text: str
    line: int

    @property
    def file(self) -> str | None:
        m = re.search(r"\bfile=(\S+)", self.info)
        return m.group(1) if m else None

    @property
    def id(self) -> str:
        return f"{self.lang}@{self.line}"


def blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```(\w*)([^\n]*)\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE):
        out.append(Block(m.group(1), m.group(2).strip(), m.group(3), text.count("\n", 0, m.start()) + 1))
    return out


BLOCKS = blocks()


def of(lang: str, *, files: bool | None = None) -> list[Block]:
    return [b for b in BLOCKS if b.lang == lang and (files is None or (b.file is not None) == files)]


def test_every_block_has_a_known_kind() -> None:
    assert {b.lang for b in BLOCKS} <= {"python", "yaml", "sh", "text", "json", "toml", "dockerfile"}
    assert len(of("python", files=True)) >= 3


def test_the_delivery_section_is_last() -> None:
    headings = re.findall(r"^## (.+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert headings[-1] == "Delivery guarantees and recovery"


# --- the team's project: every file block written out, its tests run with pytest ----------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("team-project")
    for b in BLOCKS:
        if b.file is None:
            continue
        path = root / b.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(b.text)
        if b.lang == "python":
            for parent in path.relative_to(root).parents:
                if parent != Path(".") and parent.name != "tests":
                    (root / parent / "__init__.py").touch()
    shutil.copy2(ROOT / "tests" / "data" / "github-push.json", root / "github-push.json")
    return root


def test_the_team_project_tests_pass(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    tests = sum(len(re.findall(r"^(?:async )?def test_", b.text, flags=re.MULTILINE)) for b in of("python", files=True))
    assert f"{tests} passed" in out, out


@pytest.mark.parametrize("block", of("python", files=False), ids=lambda b: b.id)
def test_python_snippet_runs(block: Block, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(project))
    exec(compile(block.text, f"{DOC}:{block.line}", "exec"), {"__name__": "docs_snippet"})


# --- YAML ------------------------------------------------------------------------------------------------


def validate_yaml(block: Block, secrets: Path) -> None:
    # Mounted secret files (file:/run/secrets/NAME) are read at load: stand-ins under ``secrets``.
    for name in re.findall(r"file:/run/secrets/([\w.-]+)", block.text):
        (secrets / name).write_text("secret\n")
    data = yaml.safe_load(block.text.replace("file:/run/secrets/", f"file:{secrets}/"))
    assert isinstance(data, dict), block.text
    if block.file == "gateway.yaml":
        load_model(GatewayConfig, data, block.id, env={})
    elif "consumer" in data or "workflows" in data:
        consumer = dict(data.get("consumer") or {})
        if "topics" not in consumer and "topic_pattern" not in consumer:
            consumer["topics"] = STUB_CONSUMER["topics"]
        consumer.setdefault("group_id", STUB_CONSUMER["group_id"])
        load_model(ConsumerConfig, {**data, "consumer": consumer}, block.id, env=ENV)
    elif "consumers" in data:
        validate_chart_values(data)
    else:  # one workflow's keys: match, tenants, action, ...
        workflow = {"name": "docs", "action": STUB_ACTION, **data}
        load_model(WorkflowConfig, workflow, block.id, env=ENV)


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    return over


def validate_chart_values(data: dict[str, Any]) -> None:
    chart = ROOT / "deploy" / "helm" / "hookgate"
    schema = json.loads((chart / "values.schema.json").read_text())
    jsonschema.validate(merge(yaml.safe_load((chart / "values.yaml").read_text()), data), schema)
    for entry in data["consumers"]:
        for i, w in enumerate(entry.get("workflows", [])):
            load_model(WorkflowConfig, w, f"consumers[].workflows[{i}]", env=ENV)


@pytest.mark.parametrize("block", of("yaml"), ids=lambda b: b.id)
def test_yaml_snippet_is_valid(block: Block, tmp_path: Path) -> None:
    validate_yaml(block, tmp_path)


def test_the_chart_values_are_the_example_file() -> None:
    [block] = [b for b in of("yaml") if "chart-values" in b.info]
    assert yaml.safe_load(block.text) == yaml.safe_load((ROOT / "examples/workflows/values.yaml").read_text())


def test_the_dockerfile_is_the_example_file() -> None:
    [block] = of("dockerfile")

    def steps(text: str) -> list[str]:
        return [line for line in text.replace("\\\n", " ").splitlines() if line.strip() and line[0] != "#"]

    assert steps(block.text) == steps((ROOT / "examples/workflows/Dockerfile").read_text())


# --- commands ---------------------------------------------------------------------------------------------

ALLOWED = {"kill", "make", "curl", "docker", "helm", "python", "pip"}


def command_lines(block: Block) -> list[list[str]]:
    out = []
    for line in block.text.splitlines():
        if not line.strip():
            continue
        argv = shlex.split(line, comments=True)
        if argv:
            out.append(argv)
    return out


def parse_hookgate(argv: list[str]) -> None:
    """Parse ``hookgate ARGS`` as the CLI would, without running it: unknown options and bad values fail."""
    group: Any = typer.main.get_command(cli)
    command = group.commands.get(argv[1])
    assert command is not None, f"no command {argv[1]!r}: {argv}"
    command.make_context(argv[1], list(argv[2:]))


@pytest.mark.parametrize("block", of("sh"), ids=lambda b: b.id)
def test_commands_parse(block: Block) -> None:
    for argv in command_lines(block):
        if argv[0] == "hookgate":
            parse_hookgate(argv)
        elif argv[0] == "make":
            assert re.search(rf"^{re.escape(argv[1])}:", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
        else:
            assert argv[0] in ALLOWED, argv


def test_documented_outputs_are_what_the_commands_print(project: Path) -> None:
    checked = 0
    for before, after in itertools.pairwise(BLOCKS):
        if before.lang != "sh" or after.lang != "text":
            continue
        [argv] = command_lines(before)
        assert argv[0] == "hookgate"
        proc = subprocess.run(
            [sys.executable, "-m", "hookgate", *argv[1:]], cwd=project, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == after.text
        checked += 1
    assert checked >= 1


def test_the_logged_match_is_the_handlers_match(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hookgate.consumer.workflows.sdk import load_consumer

    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    [block] = of("json")
    line = json.loads(block.text)
    assert line["event"] == "workflow_match"
    handlers = {h.name: h for h in load_consumer("myteam.handlers:app").handlers}
    assert line["match"] == describe(handlers[line["workflow"]].predicate)
    for mod in [m for m in sys.modules if m.startswith("myteam")]:
        del sys.modules[mod]


def test_the_toml_is_valid() -> None:
    import tomllib

    for block in of("toml"):
        tomllib.loads(textwrap.dedent(block.text))
