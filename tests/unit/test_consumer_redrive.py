"""Which workflows a re-driven dead letter runs again (pure decision logic and the marker headers)."""

from __future__ import annotations

import pytest

from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.consumer.state.redrive import Decision, Redrive, decide, mark_redrive, redrive_of

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
