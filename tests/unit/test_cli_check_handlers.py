"""``hookgate check-config --handlers``: imports the handlers and checks names, matches and clashes."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hookgate.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

CONSUMER = """
consumer: {group_id: g, topics: [hookgate.acme]}
workflows:
  - name: notify
    match: {type: com.github.push, vars: {ref: refs/heads/main}}
    action: {type: http, url: "http://127.0.0.1:9/notify"}
"""

HANDLERS = """
from hookgate.consumer import Consumer, Event, match
from pydantic import BaseModel

class Push(BaseModel):
    ref: str

app = Consumer("team")

@app.workflow("deploy", match=match.type("com.github.push") & match.var("branch", "main"), model=Push)
async def deploy(event: Event, push: Push) -> None:
    return None

clash = Consumer("clash")

@clash.workflow("notify")
async def notify(event: Event) -> None:
    return None
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "consumer.yaml").write_text(CONSUMER)
    (tmp_path / "checkmods").mkdir()
    (tmp_path / "checkmods" / "__init__.py").write_text("")
    (tmp_path / "checkmods" / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    (tmp_path / "checkmods" / "broken.py").write_text(
        "from hookgate.consumer import Consumer\napp = Consumer('b')\napp.add('x', lambda e: None)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("checkmods")]:
        del sys.modules[mod]


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check-config", *args])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    return result.exit_code, output


def test_handlers_are_listed_with_their_match(project: Path) -> None:
    code, out = invoke("-c", "consumer.yaml", "--handlers", "checkmods.handlers:app")
    assert code == 0, out
    assert "consumer.yaml: 2 workflow(s)" in out
    assert "  notify (yaml): type is com.github.push and vars.ref is refs/heads/main" in out
    assert (
        "  deploy (python team, checkmods.handlers:app, model Push): type is com.github.push and vars.branch is main"
        in out
    )
    assert out.rstrip().endswith("consumer.yaml: ok")


def test_a_name_clash_with_a_yaml_workflow_fails(project: Path) -> None:
    code, out = invoke("-c", "consumer.yaml", "--handlers", "checkmods.handlers:clash")
    assert code == 2
    assert (
        "error: workflow 'notify' is defined twice: in consumer.yaml: workflows[0] and in checkmods.handlers:clash"
        in out
    )


def test_a_clash_between_two_handler_apps_fails(project: Path) -> None:
    (project / "consumer.yaml").write_text("consumer: {group_id: g, topics: [t]}\n")
    code, out = invoke(
        "-c", "consumer.yaml", "--handlers", "checkmods.handlers:clash", "--handlers", "checkmods.handlers:clash"
    )
    assert code == 2
    assert "workflow 'notify' is defined twice" in out


def test_a_variable_no_trigger_extracts_fails_with_the_gateway_config(project: Path) -> None:
    code, out = invoke(
        "-c", "consumer.yaml", "--handlers", "checkmods.handlers:app", "--gateway", str(ROOT / "examples/gateway.yaml")
    )
    assert code == 2
    assert "workflow 'deploy' matches on vars.branch, but no trigger in" in out
    assert "(the triggers extract: ref, repository)" in out
    assert "'notify'" not in out.split("error:", 1)[1]  # vars.ref is extracted by the example trigger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--handlers", "checkmods.nope:app"], "cannot import checkmods.nope"),
        (["--handlers", "checkmods.handlers"], "expected package.module:attribute"),
        (["--handlers", "checkmods.handlers:Push"], "Push is not a hookgate.consumer.Consumer"),
        (
            ["--handlers", "checkmods.broken:app"],
            "importing it raised TypeError: workflow 'x': the handler must be an async",
        ),
        (["--kind", "gateway", "--handlers", "checkmods.handlers:app"], "use --kind consumer"),
        (["--gateway", "missing.yaml"], "missing.yaml: cannot read config file"),
    ],
)
def test_clear_errors(project: Path, args: list[str], message: str) -> None:
    code, out = invoke("-c", "consumer.yaml", *args)
    assert code == 2
    assert message in out


def test_the_make_dev_configs_agree() -> None:
    code, out = invoke("-c", str(ROOT / "examples/consumer.yaml"), "--gateway", str(ROOT / "examples/gateway.yaml"))
    assert code == 0, out
    assert "deploy (yaml): type is com.github.push and tenant is acme and vars.ref is refs/heads/main" in out
