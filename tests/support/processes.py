"""Run hookgate's services as a user does: separate processes from a YAML config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"service not ready after {timeout}s:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_service(
    kind: str,
    config: dict[str, Any],
    workdir: Path,
    port: int,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> Service:
    """Write ``config`` to ``workdir/<kind>-<port>.yaml`` and start ``hookgate <kind> -c file [args]``
    (``preexec_fn`` runs in the child before it starts, e.g. to lower its resource limits)."""
    cfg_path = workdir / f"{kind}-{port}.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    log_path = workdir / f"{kind}-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hookgate", kind, "-c", str(cfg_path), *args],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )
    return Service(proc, log_path, port)
