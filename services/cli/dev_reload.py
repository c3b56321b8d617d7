"""``hookgate consumer --reload``: restart the consumer when its handler modules or its config change.

For local development only. This process watches the files (watchfiles) and runs the consumer as a child
process, in its own session so a terminal's Ctrl-C reaches only this one: on a change, or on
SIGINT/SIGTERM, it stops the child with SIGTERM (the child drains and commits as in production, within
its ``shutdown_grace_seconds``) and, on a change, starts a new one. A child that exits by itself (a
syntax error in a handler, an invalid config) is started again on the next change. The ops port is
chosen once, so it stays the same across restarts: the config's port when it is free, else a free one,
printed either way. In production, SIGHUP reloads the YAML ``workflows:`` without a restart.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from hookgate.cli.errors import CliError

_KILL_AFTER_GRACE_S = 5.0
_POLL_MS = 1000


def pick_port(host: str, wanted: int) -> tuple[int, bool]:
    """``wanted`` when it can be bound on ``host`` now, else a free port; and whether it is ``wanted``."""
    if wanted:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, wanted))
                return wanted, True
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1]), False


def watched_paths(config: Path, specs: Sequence[str]) -> list[Path]:
    """The directories to watch: the config file's, and each handler module's package (or its directory)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # as load_consumer does: the working directory is importable
    paths = {config.resolve().parent}
    for spec in specs:
        module = spec.partition(":")[0]
        top = module.split(".", 1)[0]
        try:
            found = importlib.util.find_spec(top)
        except (ImportError, ValueError) as exc:
            raise CliError(f"{spec}: cannot find module {top}: {exc}") from None
        if found is None:
            raise CliError(f"{spec}: cannot find module {top} (run from the directory that holds it)")
        if found.submodule_search_locations:
            paths.update(Path(p).resolve() for p in found.submodule_search_locations)
        elif found.origin:
            paths.add(Path(found.origin).resolve().parent)
    return sorted(paths)


class _Filter:
    """Python sources anywhere under the watched paths (not caches or virtualenvs), and the config file."""

    def __init__(self, config: Path) -> None:
        from watchfiles import DefaultFilter

        self._default = DefaultFilter()
        self._config = str(config.resolve())

    def __call__(self, change: Any, path: str) -> bool:
        if path == self._config:
            return True
        return path.endswith(".py") and bool(self._default(change, path))


def run_with_reload(command: Sequence[str], config: Path, specs: Sequence[str], grace_seconds: float) -> int:
    """Run ``command`` (a consumer without ``--reload``) and restart it on every change; returns on a signal."""
    try:
        import watchfiles
    except ImportError:
        raise CliError(
            "--reload needs the watchfiles package (pip install watchfiles, or hookgate[dev]); "
            "it is for local development: in production, SIGHUP reloads workflows:"
        ) from None
    paths = watched_paths(config, specs)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    typer.echo(f"reload: watching {', '.join(str(p) for p in paths)} (Ctrl-C stops)", err=True)
    child: subprocess.Popen[bytes] | None = _start(command)
    try:
        for changes in watchfiles.watch(
            *paths,
            watch_filter=_Filter(config),
            stop_event=stop,
            yield_on_timeout=True,
            rust_timeout=_POLL_MS,
            raise_interrupt=False,
        ):
            if not changes:
                if child is not None and child.poll() is not None:
                    typer.echo(f"reload: the consumer exited ({child.returncode}); waiting for a change", err=True)
                    child = None
                continue
            names = ", ".join(sorted({os.path.relpath(p) for _, p in changes}))
            typer.echo(f"reload: {names} changed; restarting the consumer", err=True)
            _stop(child, grace_seconds)
            child = _start(command)
    finally:
        _stop(child, grace_seconds)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _start(command: Sequence[str]) -> subprocess.Popen[bytes]:
    # Its own session: a terminal's Ctrl-C reaches only this process, which stops the child with SIGTERM.
    return subprocess.Popen(list(command), start_new_session=True)  # noqa: S603 - our own command line


def _stop(child: subprocess.Popen[bytes] | None, grace_seconds: float) -> None:
    if child is None or child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace_seconds + _KILL_AFTER_GRACE_S)
    except subprocess.TimeoutExpired:
        typer.echo("reload: the consumer did not stop in time; killing it", err=True)
        child.kill()
        child.wait()


def child_command(config: Path, specs: Sequence[str], port: int) -> list[str]:
    """The consumer's own command line, without ``--reload``, on ``port``."""
    command = [sys.executable, "-m", "hookgate", "consumer", "-c", str(config), "--port", str(port)]
    for spec in specs:
        command += ["--handlers", spec]
    return command


def describe_command(command: Sequence[str]) -> str:
    return shlex.join(command)
