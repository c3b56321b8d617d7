"""Parse an HTTP ``Retry-After`` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``now``; None when absent or unparseable; never negative.

    A date in the past means "now" (0), as does a negative number of seconds: the target asked for no
    extra delay, and the runner's own backoff still applies.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # Not RFC-conformant, but some targets send "1.5" or "-1"; take the obvious meaning.
        return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT by definition
    return max((when - now).total_seconds(), 0.0)
