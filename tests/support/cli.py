"""Run the ``hookgate`` command as a user does, for integration tests."""

from __future__ import annotations

import asyncio
import sys


async def hookgate(*args: str) -> tuple[int, str, str]:
    """``hookgate ARGS...`` in a subprocess: its exit code, stdout and stderr (a traceback fails the test)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hookgate",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
