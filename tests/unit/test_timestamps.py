"""The cheap RFC 3339 timestamps give the same text as formatting a datetime."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from hookgate.core.timestamps import rfc3339_ms, rfc3339_us

INSTANTS_NS = [
    0,
    1_764_283_800_000_000_000,  # a whole second: the fraction is still written
    1_764_283_800_123_456_789,
    1_764_283_859_999_999_999,  # the last nanosecond before a minute turns
    1_764_283_860_000_000_001,
    1_709_164_800_500_000_000,  # 2024-02-29, a leap day
    4_102_444_799_999_000_000,  # 2099-12-31T23:59:59.999
]


@pytest.mark.parametrize("ns", INSTANTS_NS)
def test_milliseconds_match_the_datetime_formatting(ns: int) -> None:
    as_datetime = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)  # microsecond-exact, no float rounding up
    assert rfc3339_ms(ns) == as_datetime.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("ns", INSTANTS_NS)
def test_microseconds_always_carry_six_digits(ns: int) -> None:
    as_datetime = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)
    assert rfc3339_us(ns) == as_datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_consecutive_calls_across_seconds_use_each_second_text() -> None:
    # The per-second cache must follow the clock both ways (a clock may step back).
    stamps = [rfc3339_ms(ns) for ns in (5_000_000_000, 6_000_000_001, 5_999_000_000, 6_001_000_000)]
    assert stamps == [
        "1970-01-01T00:00:05.000Z",
        "1970-01-01T00:00:06.000Z",
        "1970-01-01T00:00:05.999Z",
        "1970-01-01T00:00:06.001Z",
    ]


def test_now_is_rfc3339_utc() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rfc3339_ms())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", rfc3339_us())
