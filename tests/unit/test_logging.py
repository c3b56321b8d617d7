"""The log set-up: JSON lines on stdout (orjson), RFC 3339 UTC timestamps, secrets redacted, library logs too."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog

from hookgate.core.logging import configure_logging, get_logger


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """``configure_logging`` in force for the test (undone after it), writing to the captured stdout."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield capsys
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = capsys.readouterr().out
    assert out.endswith("\n")
    return [json.loads(line) for line in out.splitlines()]


def test_one_json_line_per_event_with_level_and_utc_timestamp(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    log = get_logger("t")
    log.info(
        "audit", request_id="r1", status=202, duration_ms=1.5, event_id=None, when=datetime(2026, 1, 2, tzinfo=UTC)
    )
    log.debug("hidden")
    log.warning("second", partitions={0: 12, 1: 3})
    first, second = lines(configured)
    assert {k: first[k] for k in ("event", "level", "request_id", "status", "duration_ms", "event_id")} == {
        "event": "audit",
        "level": "info",
        "request_id": "r1",
        "status": 202,
        "duration_ms": 1.5,
        "event_id": None,
    }
    assert first["when"] == "2026-01-02T00:00:00+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(first["timestamp"]))
    assert (second["event"], second["level"], second["partitions"]) == ("second", "warning", {"0": 12, "1": 3})


def test_keys_naming_secrets_are_redacted_whatever_their_case(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    log = get_logger("t")
    for _ in range(2):  # the second time from the per-key-set cache
        log.info("x", Authorization="Bearer abc", signature="sha256=def", body=b"raw", trigger="gh")
    for line in lines(configured):
        assert (line["Authorization"], line["signature"], line["body"]) == ("[redacted]",) * 3
        assert line["trigger"] == "gh"


def test_what_orjson_refuses_is_still_rendered(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    get_logger("t").info("big", offset=2**70, odd=object())
    (line,) = lines(configured)
    assert line["offset"] == 2**70
    assert str(line["odd"]).startswith("<object object at")


def test_standard_library_records_are_json_lines_too(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    logging.getLogger("aiokafka.test").warning("broker %s gone", "b1")
    get_logger("t").info("after")
    first, second = lines(configured)
    assert (first["event"], first["level"], first["logger"]) == ("broker b1 gone", "warning", "aiokafka.test")
    assert str(first["timestamp"]).endswith("Z")
    assert second["event"] == "after"
