"""Replay protection: a signed timestamp must fall within a tolerance of the gateway's clock.

Senders that sign a timestamp make a captured request useless after the window; requests dated too
far in the future are refused as well, so a skewed or forged clock cannot extend that window. A
trigger may switch the window off (``tolerance_seconds: null``, see :mod:`.options`); the timestamp
is then still required and signed, only its age is not checked.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from hookgate.gateway.verify.base import reject

# ASCII digits only: ``\d`` and ``float`` would also take other scripts' digits, which no sender writes.
_UNIX = re.compile(r"\d{1,16}(?:\.\d{1,9})?", re.ASCII)
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.ASCII)


def parse_unix(value: str | None, *, milliseconds: bool = False) -> float:
    """A unix timestamp (seconds, or milliseconds when so declared) from a header or body field."""
    if value is None or value == "":
        reject("missing_timestamp")
    value = value.strip()
    if not _UNIX.fullmatch(value):
        reject("malformed_timestamp")
    seconds = float(value)
    return seconds / 1000 if milliseconds else seconds


def parse_rfc3339(value: str | None) -> float:
    """An RFC 3339 timestamp (Twitch sends nanoseconds; the digits past microseconds are dropped)."""
    if value is None or value == "":
        reject("missing_timestamp")
    m = _RFC3339.fullmatch(value.strip())
    if m is None:
        reject("malformed_timestamp")
    base, frac, zone = m.groups()
    text = base + (f".{frac[:6]}" if frac else "") + ("+00:00" if zone == "Z" else zone)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        reject("malformed_timestamp")


TimestampFormat = Literal["unix", "unix_ms", "rfc3339"]


def parse_timestamp(value: str | None, form: TimestampFormat) -> float:
    """A signed timestamp written as ``form``: unix seconds, unix milliseconds or RFC 3339."""
    if form == "rfc3339":
        return parse_rfc3339(value)
    return parse_unix(value, milliseconds=form == "unix_ms")


def check_window(timestamp: float, now: float, tolerance: float | None) -> None:
    """Reject ``stale_timestamp`` / ``future_timestamp`` when ``timestamp`` is outside ``now ± tolerance``.

    ``None`` is no window: the trigger switched it off.
    """
    if tolerance is None:
        return
    if timestamp < now - tolerance:
        reject("stale_timestamp")
    if timestamp > now + tolerance:
        reject("future_timestamp")
