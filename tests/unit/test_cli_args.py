"""Argument handling of ``hookgate send/tail/inspect/replay``: bad input is a message and exit 2, never a traceback.

None of these reach the network: they fail (or, for ``send --dry-run``, finish) before any I/O.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hookgate.cli.main import app

runner = CliRunner()
URL = "http://127.0.0.1:9/hooks/abc"


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, output


def test_send_dry_run_prints_the_signed_request() -> None:
    code, out = invoke(
        "send", URL, "-p", "github", "-s", "It's a Secret to Everybody", "-d", "Hello, World!", "--dry-run"
    )
    assert code == 0
    assert "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" in out
    assert out.rstrip().endswith("Hello, World!")


def test_send_reads_secret_and_body_files(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("It's a Secret to Everybody\n")
    (tmp_path / "body").write_bytes(b"Hello, World!")
    code, out = invoke(
        "send", URL, "-s", f"file:{tmp_path / 'secret'}", "--data-file", str(tmp_path / "body"), "--dry-run"
    )
    assert code == 0
    assert "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" in out


def test_send_accepts_the_gateway_spelling_of_presets() -> None:
    code, out = invoke(
        "send", URL, "-p", "standard_webhooks", "-s", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--dry-run"
    )
    assert code == 0
    assert "v1," in out


def test_send_accepts_the_dashed_spelling_and_names_presets_in_snake_case() -> None:
    code, out = invoke(
        "send", URL, "-p", "standard-webhooks", "-s", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--dry-run"
    )
    assert (code, "v1," in out) == (0, True)
    code, out = invoke("send", URL, "-p", "acme", "-s", "k")
    assert code == 2
    assert "standard_webhooks" in out
    assert "standard-webhooks" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "ftp://x/hooks/a", "-s", "k"], "not an http(s) URL"),
        (["send", URL, "-p", "acme", "-s", "k"], "unknown preset"),
        (["send", URL, "-p", "github"], "needs --secret"),
        (["send", URL, "-s", "k", "-d", "x", "--data-file", "f"], "either --data or --data-file"),
        (["send", URL, "-s", "k", "-H", "no-colon"], "expected 'Name: value'"),
        (["send", URL, "-s", "file:/nonexistent/secret"], "cannot read secret file"),
        (["send", URL, "-p", "svix", "-s", "whsec_***"], "whsec_"),
        (["send", URL, "-p", "hmac", "-s", "k", "--hmac-algorithm", "md5"], "--hmac-algorithm"),
        (["tail"], "--tenant/--topic"),
        (["tail", "--topic", "a", "--pattern", "b"], "not both"),
        (["tail", "--pattern", "(["], "not a valid regular expression"),
        (["inspect", "--topic", "a"], "either --partition and --offset, or --id"),
        (["inspect", "--topic", "a", "--partition", "0"], "go together"),
        (["inspect", "--topic", "a", "--tenant", "b", "--id", "x"], "exactly one of --topic or --tenant"),
        (["replay", "--to-topic", "b"], "exactly one source"),
        (["replay", "--from-topic", "a"], "name the target"),
        (["replay", "--from-topic", "a", "--to-topic", "b", "--start-offset", "3"], "add --partition"),
        (["replay", "--from-topic", "a", "--to-topic", "b", "--since", "yesterday"], "neither ISO 8601"),
        (["replay", "--from-topic", "a", "--to-topic", "b", "--include-resolved"], "goes with --dead-letter"),
        (["inspect", "--group", "g"], "--group goes with --id"),
        (["inspect", "--group", "g", "--id", "x", "--partition", "0"], "--group goes with --id"),
        (["tail", "--topic", "a", "-c", "/nonexistent/gateway.yaml"], "cannot read config file"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    code, out = invoke(*args)
    assert code == 2
    assert message in out


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text("kafka:\n  bootstrap_servers: 127.0.0.1:9\n  topics: {prefx: x}\n")
    code, out = invoke("tail", "--tenant", "acme", "-c", str(cfg))
    assert code == 2
    assert "topics.prefx: unknown key" in out
    cfg.write_text("- not\n- a mapping\n")
    code, out = invoke("tail", "--tenant", "acme", "-c", str(cfg))
    assert code == 2
    assert "must be a mapping" in out
