"""Which workflows a re-driven dead letter runs again (pure decision logic and the marker headers)."""

from __future__ import annotations

import pytest

from hookgate.consumer.state.deadletter import (
    H_PARTITION,
    H_REDRIVE,
    H_REDRIVE_GROUP,
    H_REDRIVE_WORKFLOW,
    H_WORKFLOW,
)
from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.consumer.state.redrive import Decision, Redrive, attempts_so_far, decide, mark_redrive, redrive_of

SUCCEEDED = DoneRecord("succeeded", 1.0)
DEAD = DoneRecord("deadlettered", 1.0)
R1 = Redrive("r1", "deploy")


@pytest.mark.parametrize(
    ("done", "expected"),
    [(None, Decision.RUN), (SUCCEEDED, Decision.DUPLICATE), (DEAD, Decision.DUPLICATE)],
)
def test_records_without_a_marker_are_decided_as_before(done: DoneRecord | None, expected: Decision) -> None:
    assert decide("deploy", done, None) is expected


def test_a_redrive_reruns_the_dead_lettered_workflow() -> None:
    assert decide("deploy", DEAD, R1) is Decision.RERUN
    # a dead letter written by an earlier re-drive that failed too: a new re-drive runs it again
    assert decide("deploy", DoneRecord("deadlettered", 2.0, redrive="r0"), R1) is Decision.RERUN


def test_a_redrive_never_reruns_a_success() -> None:
    assert decide("deploy", SUCCEEDED, R1) is Decision.DUPLICATE
    # the re-run succeeded, then the re-driven record was redelivered (crash, rebalance)
    assert decide("deploy", DoneRecord("succeeded", 2.0, redrive="r1"), R1) is Decision.DUPLICATE


def test_a_redelivered_redrive_whose_rerun_failed_again_does_not_run_a_third_time() -> None:
    assert decide("deploy", DoneRecord("deadlettered", 2.0, redrive="r1"), R1) is Decision.DUPLICATE


def test_a_redrive_runs_only_the_workflow_it_names() -> None:
    for done in (None, SUCCEEDED, DEAD):
        assert decide("audit", done, R1) is Decision.OTHER_WORKFLOW


def test_a_redrive_whose_entry_is_gone_runs_like_any_event() -> None:
    assert decide("deploy", None, R1) is Decision.RUN


def test_a_marker_without_a_workflow_applies_to_every_workflow() -> None:
    everyone = Redrive("r1", None)
    assert decide("audit", DEAD, everyone) is Decision.RERUN
    assert decide("audit", SUCCEEDED, everyone) is Decision.DUPLICATE


def test_the_marker_is_read_from_the_headers() -> None:
    headers = [("ce_id", b"e1"), ("hookgate_redrive", b"r1"), ("hookgate_redrive_workflow", b"deploy")]
    assert redrive_of(headers) == R1
    assert redrive_of([("hookgate_redrive", b"r1")]) == Redrive("r1", None)
    assert redrive_of([("ce_id", b"e1"), ("hookgate_workflow", b"deploy")]) is None  # a dead letter itself
    assert redrive_of([("hookgate_redrive", b"")]) is None


def test_marking_a_dead_letter_names_its_workflow_and_replaces_an_older_marker() -> None:
    dead = [
        ("ce_id", b"e1"),
        ("hookgate_workflow", b"deploy"),
        ("hookgate_error", b"HTTP 400"),
        ("hookgate_redrive", b"old"),
    ]
    marked = mark_redrive(dead, "r1")
    assert marked[:3] == dead[:3]  # the original headers, ce_id included, stay as they are
    assert [k for k, _ in marked].count("hookgate_redrive") == 1
    assert redrive_of(marked) == R1
    assert redrive_of(mark_redrive([("ce_id", b"e1")], "r2")) == Redrive("r2", None)


def test_a_redrive_for_another_group_never_runs() -> None:
    blue = Redrive("r1", "deploy", group="blue")
    for done in (None, SUCCEEDED, DEAD):
        assert decide("deploy", done, blue, group="green") is Decision.OTHER_GROUP
    assert decide("deploy", DEAD, blue, group="blue") is Decision.RERUN
    # a marker from before group scoping applies to whichever group reads it
    assert decide("deploy", DEAD, R1, group="green") is Decision.RERUN


def test_an_unfinished_retrying_entry_lets_the_run_go_on_with_its_count() -> None:
    retrying = DoneRecord("retrying", 1.0, attempts=2)
    assert decide("deploy", retrying, None) is Decision.RUN
    assert attempts_so_far(retrying, None) == 2
    assert attempts_so_far(DoneRecord("retrying", 1.0, redrive="r1", attempts=3), R1) == 3
    # another run's count (an ordinary run's, seen by a re-drive, or another re-drive's) starts again at 0
    assert attempts_so_far(retrying, R1) == 0
    assert attempts_so_far(DoneRecord("retrying", 1.0, redrive="r0", attempts=3), R1) == 0
    assert attempts_so_far(SUCCEEDED, None) == 0
    assert decide("deploy", DoneRecord("retrying", 1.0, redrive="r1", attempts=1), R1) is Decision.RUN


def test_the_marker_names_the_group_and_keeps_the_old_signature() -> None:
    headers = [("ce_id", b"e1"), (H_WORKFLOW, b"deploy"), (H_PARTITION, b"4")]
    assert mark_redrive(headers, "r1")[-2:] == [(H_REDRIVE, b"r1"), (H_REDRIVE_WORKFLOW, b"deploy")]
    marked = mark_redrive(headers, "r2", group="blue")
    assert marked[-1] == (H_REDRIVE_GROUP, b"blue")
    again = mark_redrive(marked, "r3", group="blue")
    assert [k for k, _ in again].count(H_REDRIVE_GROUP) == 1
    assert redrive_of(again) == Redrive("r3", "deploy", group="blue", source_partition=4)


def test_done_records_carry_their_attempts_and_old_records_still_decode() -> None:
    done = DoneRecord("retrying", 5.0, "r1", attempts=2)
    assert DoneRecord.decode(done.encode()) == done
    assert not done.finished
    assert DoneRecord.decode(b'{"outcome": "succeeded", "at": 1.0}') == DoneRecord("succeeded", 1.0)
    assert DoneRecord.decode(b'{"outcome": "succeeded", "at": 1.0, "attempts": "x"}') == DoneRecord("succeeded", 1.0)
