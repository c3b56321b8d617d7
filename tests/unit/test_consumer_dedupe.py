from __future__ import annotations

from hookgate.consumer.deadletter import dead_letter_headers
from hookgate.consumer.dedupe import DedupeTable, DoneRecord, dedupe_key
from hookgate.consumer.workflows import ActionResult


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_retention() -> None:
    clock = Clock()
    t = DedupeTable(retention_seconds=60, max_entries=100, clock=clock)
    t.add(dedupe_key("wf", "e1"), clock.now)
    t.add("wf:old", clock.now - 61)  # restored from the changelog but already expired
    assert "wf:e1" in t
    assert "wf:old" not in t
    clock.now += 61
    assert "wf:e1" not in t
    assert len(t) == 0


def test_the_oldest_entries_are_evicted_past_max_entries() -> None:
    clock = Clock()
    t = DedupeTable(retention_seconds=3600, max_entries=3, clock=clock)
    for i in range(5):
        t.add(f"wf:{i}", clock.now + i)
    assert [f"wf:{i}" in t for i in range(5)] == [False, False, True, True, True]
    assert t.evicted == 2
    t.remove("wf:3")  # a tombstone
    assert "wf:3" not in t


def test_done_records_round_trip_and_garbage_is_ignored() -> None:
    rec = DoneRecord("succeeded", 1234.5)
    assert DoneRecord.decode(rec.encode()) == rec
    assert DoneRecord.decode(b"not json") is None
    assert DoneRecord.decode(b'{"outcome": "maybe", "at": 1}') is None
    assert DoneRecord.decode(b'{"at": 1}') is None


def test_dead_letter_headers_keep_the_original_and_say_what_failed() -> None:
    original = [("ce_id", b"e1"), ("content-type", b"application/json"), ("hookgate_error", b"stale")]
    headers = dead_letter_headers(
        original,
        workflow="deploy",
        result=ActionResult(ok=False, status=503, error="HTTP 503"),
        attempts=5,
        topic="hookgate.acme",
        partition=2,
        offset=41,
        failed_at=1.5,
    )
    assert headers[:2] == original[:2]
    got = dict(headers)
    assert got["hookgate_error"] == b"HTTP 503"  # an earlier dead letter's header is replaced, not doubled
    assert [k for k, _ in headers].count("hookgate_error") == 1
    assert got["hookgate_workflow"] == b"deploy"
    assert got["hookgate_attempts"] == b"5"
    assert got["hookgate_status"] == b"503"
    assert (got["hookgate_source_topic"], got["hookgate_source_partition"], got["hookgate_source_offset"]) == (
        b"hookgate.acme",
        b"2",
        b"41",
    )
    assert got["hookgate_failed_at"] == b"1500"
