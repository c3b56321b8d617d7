"""The log set-up: JSON lines on stdout (orjson), RFC 3339 UTC timestamps, secrets redacted, library logs too."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
import structlog.testing

from hookgate.core.logging import (
    HELD_BYTES_MAX,
    ClientRetryNoise,
    LineWriter,
    configure_logging,
    get_logger,
    info_line,
    recent_client_retry,
)


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


def test_info_line_writes_the_line_log_info_writes(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    log = get_logger("t")
    fields: dict[str, object] = {"request_id": "r1", "status": 202, "event_id": None, "token": "s3cret"}
    with structlog.contextvars.bound_contextvars(trace="abc"):
        log.info("audit", **fields)
        info_line(log, "audit", fields)
    assert fields == {"request_id": "r1", "status": 202, "event_id": None, "token": "s3cret"}  # left as given
    slow, fast = configured.readouterr().out.splitlines()
    # Byte for byte the same line (same keys in the same order, same redaction), but for the timestamp.
    stamp = re.compile(r'"timestamp":"[^"]*"')
    assert stamp.sub("", fast) == stamp.sub("", slow)
    line = json.loads(fast)
    assert (line["token"], line["trace"]) == ("[redacted]", "abc")


def test_info_line_follows_the_level_and_a_tests_capture(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning")
    log = get_logger("t")
    info_line(log, "audit", {"status": 202})
    assert configured.readouterr().out == ""
    configure_logging("info")
    log = get_logger("u")
    with structlog.testing.capture_logs() as captured:  # another configuration in force: structlog itself
        info_line(log, "audit", {"status": 202})
    assert captured == [{"event": "audit", "status": 202, "log_level": "info"}]


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


def _client_lines() -> None:
    """What aiokafka logs during a broker outage (its own templates and loggers), and real errors beside."""
    from aiokafka.errors import (
        KafkaConnectionError,
        NodeNotReadyError,
        NotLeaderForPartitionError,
        SaslAuthenticationFailed,
        TopicAuthorizationFailedError,
    )

    client = logging.getLogger("aiokafka")
    client.error("Unable connect to node with id %s: %s", 1, ConnectionRefusedError(111, "Connection refused"))
    client.error("Unable to update metadata from %s", [1])
    client.error('Unable connect to "%s:%s": %s', "kafka", 9092, OSError(-2, "Name or service not known"))
    logging.getLogger("aiokafka.consumer.fetcher").error(
        "Failed fetch messages from %s: %s",
        1,
        NodeNotReadyError("Attempt to send a request to node which is not ready"),
    )
    logging.getLogger("aiokafka.producer.sender").warning(
        "Got error produce response: %s", KafkaConnectionError("Connection at 127.0.0.1:9092 closed")
    )
    logging.getLogger("aiokafka.producer.sender").warning(
        "Got error produce response on topic-partition %s, retrying. Error: %s", "t-0", NotLeaderForPartitionError
    )
    client.warning("Unable to request metadata from node with id %s: %r", 1, TimeoutError())
    # Kept: the same logger and message with an authentication failure, authorization, TLS, our own lines.
    client.error("Unable connect to node with id %s: %s", 1, SaslAuthenticationFailed("Authentication failed"))
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "OffsetCommit failed for unauthorized topics %s", TopicAuthorizationFailedError({"acme"})
    )
    client.error(
        'Unable connect to "%s:%s": %s', "kafka", 9093, ssl.SSLCertVerificationError(1, "certificate verify failed")
    )
    logging.getLogger("aiokafka.producer.sender").error(
        "Could not add partition %s due to unexpected error: %s", "t-0", TopicAuthorizationFailedError
    )
    logging.getLogger("hookgate.other").error("disk %s", OSError(28, "No space left on device"))


def test_kafka_client_retry_lines_are_turned_down_and_real_errors_kept(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")  # here: pytest gives set-up and test body different stdouts
    _client_lines()
    kept = [(line["level"], line["event"]) for line in lines(configured)]
    assert kept == [
        ("error", "Unable connect to node with id 1: [Error 58] SaslAuthenticationFailed: Authentication failed"),
        ("error", "OffsetCommit failed for unauthorized topics [Error 29] TopicAuthorizationFailedError: {'acme'}"),
        ("error", 'Unable connect to "kafka:9093": certificate verify failed'),
        (
            "error",
            "Could not add partition t-0 due to unexpected error: "
            "<class 'aiokafka.errors.TopicAuthorizationFailedError'>",
        ),
        ("error", "disk [Errno 28] No space left on device"),
    ]
    # The latest hidden line that named a failure is what the outage warning quotes.
    assert recent_client_retry(60) == "Unable to request metadata from node with id 1: TimeoutError()"


def test_at_debug_the_retry_lines_are_shown_as_debug(configured: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug")  # here: pytest gives set-up and test body different stdouts
    _client_lines()
    levels = [line["level"] for line in lines(configured) if str(line.get("logger", "")).startswith("aiokafka")]
    assert levels == ["debug"] * 7 + ["error"] * 4


def test_a_retry_line_is_quoted_only_while_recent() -> None:
    now = [0.0]
    noise = ClientRetryNoise(show_as_debug=False, clock=lambda: now[0])
    record = logging.LogRecord(
        "aiokafka",
        logging.ERROR,
        __file__,
        1,
        "Unable connect to node with id %s: %s",
        (1, ConnectionResetError()),
        None,
    )
    assert noise.filter(record) is False
    assert record.levelname == "DEBUG"
    now[0] = 30.0
    assert noise.recent(60) == "Unable connect to node with id 1: "
    now[0] = 61.0
    assert noise.recent(60) is None


class _RecordingFile:
    """What LineWriter writes, and how often it flushes."""

    def __init__(self) -> None:
        self.written = b""
        self.flushed: list[bytes] = []  # what had been written at each flush

    def write(self, data: bytes | memoryview) -> int:
        self.written += data
        return len(data)

    def flush(self) -> None:
        self.flushed.append(self.written)


def test_lines_written_in_one_loop_iteration_are_flushed_once_after_it() -> None:
    out = _RecordingFile()
    writer = LineWriter(out)  # type: ignore[arg-type]

    async def burst() -> bytes:
        writer.info(b'{"event":"a"}')
        writer.text().write('{"event":"from the standard library"}\n')
        writer.warning(b'{"event":"b"}')
        before = out.written
        await asyncio.sleep(0)  # the next iteration runs the scheduled write
        writer.info(b'{"event":"c"}')
        await asyncio.sleep(0)
        return before

    assert asyncio.run(burst()) == b""  # nothing written while the iteration was still running
    first = b'{"event":"a"}\n{"event":"from the standard library"}\n{"event":"b"}\n'
    assert out.written == first + b'{"event":"c"}\n'
    assert out.flushed == [first, out.written]


def test_a_burst_within_one_iteration_is_written_once_it_holds_the_bound() -> None:
    out = _RecordingFile()
    writer = LineWriter(out)  # type: ignore[arg-type]
    line = b"x" * 1023

    async def burst() -> int:
        for _ in range(HELD_BYTES_MAX // 1024 + 1):
            writer.info(line)
        return len(out.written)

    assert asyncio.run(burst()) == HELD_BYTES_MAX  # written as the bound was reached, within the iteration
    assert len(out.written) == HELD_BYTES_MAX + 1024


def test_a_partial_write_of_the_raw_file_is_continued() -> None:
    class Raw(_RecordingFile):  # an unbuffered stdout: at most 5 bytes a call
        def write(self, data: bytes) -> int:
            return super().write(bytes(data[:5]))

    out = Raw()
    LineWriter(out).info(b"0123456789abc")  # type: ignore[arg-type]
    assert out.written == b"0123456789abc\n"


def test_lines_outside_a_loop_are_flushed_at_once_also_after_a_loop_ended_with_a_flush_pending() -> None:
    out = _RecordingFile()
    writer = LineWriter(out)  # type: ignore[arg-type]
    writer.info(b"1")
    assert out.flushed == [b"1\n"]

    async def last_line_then_stop() -> None:
        writer.info(b"2")  # its flush is scheduled; the loop ends before running it

    loop = asyncio.new_event_loop()
    loop.run_until_complete(last_line_then_stop())
    loop.close()
    writer.info(b"3")
    assert out.flushed[-1] == b"1\n2\n3\n"

    async def in_a_new_loop() -> None:
        writer.info(b"4")
        await asyncio.sleep(0)

    asyncio.run(in_a_new_loop())
    assert out.flushed[-1] == b"1\n2\n3\n4\n"
