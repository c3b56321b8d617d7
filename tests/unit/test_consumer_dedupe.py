from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.deadletter import dead_letter_headers
from hookgate.consumer.state.dedupe import DedupeTable, DoneRecord, dedupe_key
from hookgate.consumer.workflows.workflow import ActionResult


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_retention() -> None:
    clock = Clock()
    t = DedupeTable(retention_seconds=60, max_entries=100, clock=clock)
    t.add(dedupe_key("wf", "e1"), DoneRecord("succeeded", clock.now))
    t.add("wf:old", DoneRecord("succeeded", clock.now - 61))  # restored from the changelog but already expired
    assert "wf:e1" in t
    assert "wf:old" not in t
    clock.now += 61
    assert "wf:e1" not in t
    assert len(t) == 0


def test_the_oldest_entries_are_evicted_past_max_entries() -> None:
    clock = Clock()
    evicted: list[None] = []
    t = DedupeTable(retention_seconds=3600, max_entries=3, clock=clock, on_evict=lambda: evicted.append(None))
    for i in range(5):
        t.add(f"wf:{i}", DoneRecord("succeeded", clock.now + i))
    assert [f"wf:{i}" in t for i in range(5)] == [False, False, True, True, True]
    assert len(evicted) == 2
    t.remove("wf:3")  # a tombstone
    assert "wf:3" not in t
    clock.now += 7200  # expiry is not eviction
    assert "wf:4" not in t
    assert len(evicted) == 2


def test_done_records_round_trip_and_garbage_is_ignored() -> None:
    rec = DoneRecord("succeeded", 1234.5)
    assert DoneRecord.decode(rec.encode()) == rec
    assert DoneRecord.decode(b"not json") is None
    assert DoneRecord.decode(b'{"outcome": "maybe", "at": 1}') is None
    assert DoneRecord.decode(b'{"at": 1}') is None


def test_dead_letter_headers_keep_the_original_and_say_what_failed() -> None:
    original = [("ce_id", b"e1"), ("content-type", b"application/json"), ("hookgate_error", b"stale")]
    record = ConsumerRecord("hookgate.acme", 2, 41, 0, 0, b"acme", b"{}", None, 4, 2, original)
    headers = dead_letter_headers(
        record,
        workflow="deploy",
        result=ActionResult(ok=False, status=503, error="HTTP 503"),
        attempts=5,
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


def test_the_table_remembers_how_each_run_finished_and_the_latest_record_wins() -> None:
    clock = Clock()
    evicted: list[None] = []
    t = DedupeTable(retention_seconds=3600, max_entries=2, clock=clock, on_evict=lambda: evicted.append(None))
    t.add("wf:a", DoneRecord("deadlettered", clock.now))
    t.add("wf:b", DoneRecord("succeeded", clock.now))
    assert t.get("wf:a") == DoneRecord("deadlettered", clock.now)
    assert t.get("wf:b") == DoneRecord("succeeded", clock.now)
    assert t.get("wf:none") is None
    # A re-run overwrites its key (as the compacted changelog does) and counts as the newest entry.
    t.add("wf:a", DoneRecord("succeeded", clock.now + 1, redrive="r1"))
    assert t.get("wf:a") == DoneRecord("succeeded", clock.now + 1, redrive="r1")
    assert len(t) == 2
    t.add("wf:c", DoneRecord("succeeded", clock.now + 2))  # still bounded: the oldest (wf:b) goes
    assert (t.get("wf:b"), len(t), len(evicted)) == (None, 2, 1)
    assert "wf:a" in t
    clock.now += 3600.5  # wf:a (written at +1) outlives the retention of an entry written at +0
    assert t.get("wf:a") is not None
    clock.now += 1
    assert t.get("wf:a") is None


def test_done_records_carry_the_redrive_id_and_old_records_decode_without_one() -> None:
    rec = DoneRecord("deadlettered", 5.0, redrive="2b1c")
    assert DoneRecord.decode(rec.encode()) == rec
    assert b"redrive" not in DoneRecord("succeeded", 5.0).encode()  # ordinary runs write what they always did
    assert DoneRecord.decode(b'{"outcome": "deadlettered", "at": 5}') == DoneRecord("deadlettered", 5.0, None)
    assert DoneRecord.decode(b'{"outcome": "succeeded", "at": 5, "redrive": 7}') == DoneRecord("succeeded", 5.0)
    assert DoneRecord.decode(b"[1, 2]") is None
    assert DoneRecord.decode(b'{"outcome": ["x"], "at": 1}') is None


def test_a_new_dead_letter_drops_the_redrive_marker_of_the_record_that_failed_again() -> None:
    original = [("ce_id", b"e1"), ("hookgate_redrive", b"r1"), ("hookgate_redrive_workflow", b"deploy")]
    record = ConsumerRecord("hookgate.acme", 0, 7, 0, 0, b"acme", b"{}", None, 4, 2, original)
    headers = dead_letter_headers(
        record,
        workflow="deploy",
        result=ActionResult(ok=False, status=400, error="HTTP 400"),
        attempts=1,
        failed_at=2.0,
    )
    names = [k for k, _ in headers]
    assert "hookgate_redrive" not in names
    assert "hookgate_redrive_workflow" not in names
    assert dict(headers)["hookgate_workflow"] == b"deploy"


def test_evictions_are_a_metric_that_exists_at_zero_from_the_start() -> None:
    metrics = ConsumerMetrics()
    assert metrics.registry.get_sample_value("hookgate_consumer_dedupe_evictions_total") == 0.0
    clock = Clock()
    t = DedupeTable(retention_seconds=3600, max_entries=1, clock=clock, on_evict=metrics.dedupe_evictions.inc)
    for i in range(3):
        t.add(f"wf:{i}", DoneRecord("succeeded", clock.now))
    assert metrics.registry.get_sample_value("hookgate_consumer_dedupe_evictions_total") == 2.0
