"""``hookgate consumer --reload``'s pure parts: what it watches, the port it picks, and a clear error without
watchfiles (the restart itself is tests/e2e/test_consumer_reload.py)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hookgate.cli.dev_reload import _Filter, child_command, pick_port, run_with_reload, watched_paths
from hookgate.cli.errors import CliError
from hookgate.cli.main import app


def test_a_taken_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        port, as_wanted = pick_port("127.0.0.1", taken)
        assert not as_wanted
        assert port != taken
    free, as_wanted = pick_port("127.0.0.1", port)
    assert (free, as_wanted) == (port, True)
    assert pick_port("127.0.0.1", 0)[1] is False


def test_it_watches_the_config_and_the_handler_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "consumer.yaml"
    config.write_text("")
    (tmp_path / "watchpkg").mkdir()
    (tmp_path / "watchpkg" / "__init__.py").write_text("")
    (tmp_path / "watchpkg" / "handlers.py").write_text("")
    (tmp_path / "watchsingle.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        paths = watched_paths(config, ["watchpkg.handlers:app", "watchsingle:app"])
        assert paths == sorted([(tmp_path / "conf").resolve(), (tmp_path / "watchpkg").resolve(), tmp_path.resolve()])
        with pytest.raises(CliError, match="cannot find module nosuchpkg"):
            watched_paths(config, ["nosuchpkg.handlers:app"])
    finally:
        for mod in [m for m in sys.modules if m.startswith(("watchpkg", "watchsingle"))]:
            del sys.modules[mod]


def test_the_filter_takes_python_sources_and_the_config_only(tmp_path: Path) -> None:
    from watchfiles import Change

    config = tmp_path / "consumer.yaml"
    accept = _Filter(config)
    assert accept(Change.modified, str(config.resolve()))
    assert accept(Change.modified, str(tmp_path / "pkg" / "handlers.py"))
    assert not accept(Change.modified, str(tmp_path / "other.yaml"))
    assert not accept(Change.modified, str(tmp_path / "pkg" / "__pycache__" / "handlers.py"))
    assert not accept(Change.modified, str(tmp_path / ".venv" / "lib" / "x.py"))


def test_without_watchfiles_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import watchfiles now raises ImportError
    with pytest.raises(CliError, match=r"--reload needs the watchfiles package \(pip install watchfiles"):
        run_with_reload(["true"], tmp_path / "c.yaml", [], 1.0)
    (tmp_path / "c.yaml").write_text("consumer: {group_id: g, topics: [t], listen: {host: 127.0.0.1, port: 0}}\n")
    result = CliRunner().invoke(app, ["consumer", "--reload", "-c", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "--reload needs the watchfiles package" in result.output + result.stderr
    assert "Traceback" not in result.output


def test_the_child_runs_without_reload_on_the_chosen_port() -> None:
    command = child_command(Path("c.yaml"), ["a.b:app", "c:app"], 4321)
    assert command[1:] == [
        *("-m", "hookgate", "consumer", "-c", "c.yaml", "--port", "4321"),
        *("--handlers", "a.b:app", "--handlers", "c:app"),
    ]
    assert "--reload" not in command
