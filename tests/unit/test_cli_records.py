"""How the CLI renders Kafka records and which records its filters keep."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hookgate.cli.records import RecordFilter, attributes, parse_time, record_json

HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"evt-1"),
    ("ce_type", b"com.github.push"),
    ("ce_tenant", b"acme"),
    ("content-type", b"application/json"),
    ("hookgate_workflow", b"deploy"),
]


@dataclass
class FakeRecord:  # the attributes of aiokafka's ConsumerRecord that record_json reads
    topic: str = "hookgate.acme"
    partition: int = 2
    offset: int = 41
    timestamp: int = 1_767_225_600_000
    key: bytes | None = b"acme"
    value: bytes | None = b'{"a": 1}'
    headers: tuple[tuple[str, bytes], ...] = tuple(HEADERS)


def test_record_json_splits_attributes_and_other_headers() -> None:
    doc = record_json(FakeRecord(), body=True)
    assert doc["topic"] == "hookgate.acme"
    assert (doc["partition"], doc["offset"]) == (2, 41)
    assert doc["timestamp"] == "2026-01-01T00:00:00.000+00:00"
    assert doc["key"] == "acme"
    assert doc["attributes"]["type"] == "com.github.push"
    assert doc["attributes"]["datacontenttype"] == "application/json"
    assert doc["headers"] == {"hookgate_workflow": "deploy"}
    assert doc["body"] == '{"a": 1}'


def test_record_json_binary_body_and_no_body() -> None:
    doc = record_json(FakeRecord(value=b"\xff\x00"), body=True)
    assert doc["body_base64"] == "/wA="
    assert "body" not in doc
    assert "body" not in record_json(FakeRecord(), body=False)
    assert "key" not in record_json(FakeRecord(key=None), body=False)


@pytest.mark.parametrize(
    ("wanted", "keep"),
    [
        (RecordFilter(), True),
        (RecordFilter(types=("com.github.push",)), True),
        (RecordFilter(types=("com.github.*",)), True),
        (RecordFilter(types=("com.stripe.*",)), False),
        (RecordFilter(ids=frozenset({"evt-1", "evt-2"})), True),
        (RecordFilter(ids=frozenset({"evt-2"})), False),
        (RecordFilter(types=("com.github.push",), ids=frozenset({"evt-2"})), False),
    ],
)
def test_filter(wanted: RecordFilter, keep: bool) -> None:
    assert wanted.matches(HEADERS) is keep


def test_filter_on_a_record_without_cloudevents_headers() -> None:
    assert RecordFilter().matches([])
    assert not RecordFilter(types=("x",)).matches([])
    assert attributes([]) == {}


def test_parse_time() -> None:
    assert parse_time("1767225600000") == 1_767_225_600_000
    assert parse_time("2026-01-01T00:00:00Z") == 1_767_225_600_000
    assert parse_time("2026-01-01T01:00:00+01:00") == 1_767_225_600_000
    assert parse_time("2026-01-01T00:00:00") == 1_767_225_600_000  # no zone: UTC
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("soon")
