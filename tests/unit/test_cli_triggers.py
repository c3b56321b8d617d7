"""``hookgate triggers``: exit codes, specs from files and options, tables, and --help examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from hookgate.cli.errors import CliError
from hookgate.cli.main import app
from hookgate.cli.triggers import Answer, Target, build_spec, checked, exit_code, table

COMMANDS = ["create", "list", "show", "update", "disable", "enable", "delete", "rotate", "reseal"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(200, 0), (201, 0), (204, 0), (400, 2), (413, 2), (415, 2), (422, 2), (404, 3), (409, 4), (503, 5), (401, 6)],
)
def test_exit_codes(status: int, code: int) -> None:
    assert exit_code(status) == code


def test_exit_code_of_other_failures() -> None:
    assert exit_code(500) == 1
    assert exit_code(418) == 1


def test_checked_names_the_fields() -> None:
    answer = Answer(
        422,
        {
            "error": "invalid_trigger",
            "message": "x",
            "errors": [{"path": "verify.secrets", "message": "too short"}],
        },
    )
    with pytest.raises(CliError) as err:
        checked(answer)
    assert err.value.code == 2
    assert "invalid_trigger" in str(err.value)
    assert "verify.secrets: too short" in str(err.value)
    assert checked(Answer(200, {"ok": 1})) == {"ok": 1}


def test_spec_from_file_and_options(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: gh\ntenant: acme\nverify:\n  type: github\n")
    assert build_spec(str(path), None, None, None, ["rate_limit.per_second=5", "enabled=false"]) == {
        "name": "gh",
        "tenant": "acme",
        "verify": {"type": "github"},
        "rate_limit": {"per_second": 5},
        "enabled": False,
    }
    assert build_spec(None, "x", "acme", "stripe", []) == {"name": "x", "tenant": "acme", "verify": {"type": "stripe"}}


@pytest.mark.parametrize(
    ("content", "sets", "message"),
    [
        ("- a list", [], "expected the trigger mapping"),
        ("name: [unclosed", [], "not valid YAML"),
        ("name: x", ["novalue"], "expected key.path=value"),
        ("name: x", ["name.sub=1"], "name is not a mapping"),
    ],
)
def test_bad_specs_are_usage_errors(tmp_path: Path, content: str, sets: list[str], message: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(content)
    with pytest.raises(CliError, match=message) as err:
        build_spec(str(path), None, None, None, sets)
    assert err.value.code == 2


def test_target_reads_a_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token-value\n")
    assert Target.of("http://gw:8081/", f"file:{token}").token == "s3cret-token-value"
    assert Target.of("http://gw:8081/", "t").url == "http://gw:8081"
    for url, tok, cert, key in [(None, "t", None, None), ("ftp://x", "t", None, None), ("http://x", None, None, None)]:
        with pytest.raises(CliError) as err:
            Target.of(url, tok, None, cert, key)
        assert err.value.code == 2
    with pytest.raises(CliError, match="--cert and --key"):
        Target.of("https://x", "t", None, "cert.pem", None)


def test_table() -> None:
    assert table([["a", "bb", "c"], ["dddd", "e", "f"]], ["H1", "H2", "H3"]).splitlines() == [
        "H1    H2  H3",
        "a     bb  c",
        "dddd  e   f",
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_an_example(command: str) -> None:
    result = CliRunner().invoke(app, ["triggers", command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"hookgate triggers {command}" in result.output


def test_group_help_lists_the_exit_codes() -> None:
    result = CliRunner().invoke(app, ["triggers", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    assert "3 not found" in result.output


def test_missing_url_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["triggers", "list"], env={"HOOKGATE_ADMIN_URL": "", "HOOKGATE_ADMIN_TOKEN": ""})
    assert result.exit_code == 2
    assert "--admin-url" in result.output


@pytest.mark.parametrize("command", ["show", "update", "disable", "enable", "delete", "rotate"])
def test_an_id_that_starts_with_a_dash_follows_double_dash(command: str) -> None:
    # Trigger ids are URL-safe base64 and may begin with "-": after "--" it is the argument, not an option.
    group: Any = typer.main.get_command(app)
    sub = group.commands["triggers"].commands[command]
    ctx = sub.make_context(command, ["--admin-url", "http://x", "--token", "t", "--", "-6abcdefghijklmnopqrstuv"])
    assert ctx.params["trigger_id"] == "-6abcdefghijklmnopqrstuv"


def test_the_help_says_how_to_pass_such_an_id() -> None:
    result = CliRunner().invoke(app, ["triggers", "--help"], env={"COLUMNS": "200"})
    assert "--" in result.output
    assert "begins with" in result.output
