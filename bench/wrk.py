"""Run ``wrk`` and read its report: requests/s, latency percentiles, non-2xx and socket errors."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    raw: str

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        del out["raw"]
        return out


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not m:
        raise ValueError(f"unexpected wrk duration {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(report: str) -> WrkResult:
    """Parse ``wrk --latency`` output; raises ValueError when the report is not one."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    total = re.search(r"(\d+) requests in", report)
    if not rps or not total:
        raise ValueError(f"not a wrk report:\n{report}")
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", report, re.MULTILINE))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", report)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_second=float(rps.group(1)),
        p50_ms=_ms(pct["50"]),
        p75_ms=_ms(pct["75"]),
        p90_ms=_ms(pct["90"]),
        p99_ms=_ms(pct["99"]),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
        raw=report,
    )


def run_wrk(
    url: str,
    *,
    script: Path,
    env: dict[str, str],
    threads: int,
    connections: int,
    seconds: int,
    cpu: str | None,
) -> WrkResult:
    """Run wrk against ``url`` (pinned to ``cpu`` with taskset when given) and parse its report."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"wrk failed ({res.returncode}): {res.stderr}{res.stdout}")
    return parse(res.stdout)
