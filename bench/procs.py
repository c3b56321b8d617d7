"""Start the benchmarked processes (pinned to a core when possible), wait for them, read their peak RSS."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinning() -> tuple[str | None, str | None]:
    """(load generator core, server core): "0" and "1" when taskset exists and there are two cores."""
    if os.environ.get("BENCH_PIN", "1") == "0" or shutil.which("taskset") is None:
        return None, None
    if len(os.sched_getaffinity(0)) < 2:
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    return str(cores[0]), str(cores[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str = "/readyz", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def peak_rss_kib(self) -> int:
        """VmHWM: the peak resident set size of the process so far, in KiB."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def children_peak_rss_kib(self) -> list[int]:
        """VmHWM of each child process (a supervisor's workers), in KiB; empty for a process without any."""
        out = []
        for task in Path(f"/proc/{self.popen.pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                try:
                    status = Path(f"/proc/{child}/status").read_text()
                except OSError:
                    continue
                out += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
        return out

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, cmd: list[str], *, workdir: Path, port: int, cpu: str | None, env: dict[str, str]) -> Proc:
    """Start ``cmd`` with stdout/stderr to ``workdir/name.log``; ``taskset -c cpu`` when ``cpu`` is set."""
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]  # taskset execs the command: the pid stays the server's
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    return Proc(name, popen, log, port)
