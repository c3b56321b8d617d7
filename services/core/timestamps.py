"""RFC 3339 UTC timestamps of the current time, cheap enough for every request and every log line.

Formatting a ``datetime`` costs about 4 µs and the gateway stamps each request several times (the
event's ``time``, the log line, the audit record). The date and seconds change once a second, so
they are formatted once per second and only the fraction is formatted per call (about 1 µs).
"""

from __future__ import annotations

import time

_NS_PER_SECOND = 1_000_000_000


class _SecondCache:
    """The last whole second seen and its ``YYYY-MM-DDTHH:MM:SS`` text (one tuple: swapped atomically)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[int, str] = (-1, "")

    def split(self, ns: int) -> tuple[str, int]:
        second, fraction_ns = divmod(ns, _NS_PER_SECOND)
        last = self.last
        if last[0] != second:
            last = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self.last = last
        return last[1], fraction_ns


_cache = _SecondCache()


def rfc3339_ms(ns: int | None = None) -> str:
    """``2026-11-27T22:50:00.123Z``: now (or ``ns``, nanoseconds since the epoch), milliseconds, UTC.

    The same text as ``datetime.isoformat(timespec="milliseconds")`` gives for that instant in UTC,
    with ``Z`` for ``+00:00``.
    """
    head, fraction_ns = _cache.split(time.time_ns() if ns is None else ns)
    return f"{head}.{fraction_ns // 1_000_000:03d}Z"


def rfc3339_us(ns: int | None = None) -> str:
    """``2026-11-27T22:50:00.123456Z``: now (or ``ns``), microseconds, UTC; for log lines."""
    head, fraction_ns = _cache.split(time.time_ns() if ns is None else ns)
    return f"{head}.{fraction_ns // 1_000:06d}Z"
