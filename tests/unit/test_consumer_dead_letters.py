"""Dead letters: the traceback header, resolution records, and the waiting count (pure)."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from hookgate.consumer.engine.failures import TRACEBACK_LIMIT
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.state.deadletter import (
    H_FAILED_AT,
    H_TRACEBACK,
    H_WORKFLOW,
    Letter,
    Resolution,
    dead_letter_headers,
    is_resolved,
    letter_of,
)
from hookgate.consumer.state.ledger import DeadLetterLedger
from hookgate.consumer.workflows.workflow import ActionResult


def _record(headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("hookgate.acme", 0, 7, 0, 0, b"acme", b"{}", None, 4, 2, headers)


def test_a_handlers_traceback_travels_in_a_bounded_header() -> None:
    result = ActionResult(ok=False, error="KeyError: 'ref'", retryable=False, traceback="x" * (TRACEBACK_LIMIT + 50))
    headers = dict(
        dead_letter_headers(_record([("ce_id", b"e1")]), workflow="deploy", result=result, attempts=1, failed_at=2.0)
    )
    assert len(headers[H_TRACEBACK]) == TRACEBACK_LIMIT
    plain = dict(
        dead_letter_headers(
            _record([("ce_id", b"e1")]), workflow="deploy", result=ActionResult(ok=False), attempts=1, failed_at=2.0
        )
    )
    assert H_TRACEBACK not in plain
    # re-dead-lettering a dead letter replaces its traceback, never doubles it
    again = dead_letter_headers(
        _record(list(headers.items())), workflow="deploy", result=result, attempts=1, failed_at=3.0
    )
    assert [k for k, _ in again].count(H_TRACEBACK) == 1


def test_a_letter_is_resolved_by_a_successful_rerun_after_it() -> None:
    letter = letter_of([("ce_id", b"e1"), (H_WORKFLOW, b"deploy"), (H_FAILED_AT, b"1000")])
    assert letter == Letter("deploy", "e1", 1000)
    assert letter.key == "deploy:e1"
    assert letter_of([("ce_id", b"e1")]) is None  # not a hookgate dead letter
    assert not is_resolved(letter, None)
    assert is_resolved(letter, Resolution(1000))
    assert not is_resolved(letter, Resolution(999))  # the event failed again after that success
    resolution = Resolution(1234, "r1")
    assert Resolution.decode(resolution.encode()) == resolution
    assert Resolution.decode(None) is None
    assert Resolution.decode(b"not json") is None


def test_the_ledger_counts_events_waiting_per_workflow_whatever_the_order() -> None:
    metrics = ConsumerMetrics()
    ledger = DeadLetterLedger(lambda wf, n: metrics.dead_letters_waiting.labels(wf).set(n))
    ledger.letter(Letter("deploy", "e1", 1000))
    ledger.letter(Letter("deploy", "e1", 2000))  # the re-drive failed again: still one event
    ledger.letter(Letter("deploy", "e2", 1000))
    ledger.letter(Letter("notify", "e1", 1000))
    assert (ledger.waiting("deploy"), ledger.waiting("notify")) == (2, 1)
    ledger.resolution("deploy:e1", Resolution(1500))  # before the second letter: e1 still waits
    assert ledger.waiting("deploy") == 2
    ledger.resolution("deploy:e1", Resolution(2500))
    assert ledger.waiting("deploy") == 1
    assert metrics.registry.get_sample_value("hookgate_consumer_dead_letters_waiting", {"workflow": "deploy"}) == 1
    # a resolution read before its letter (the two topics are read side by side)
    ledger.resolution("notify:e9", Resolution(5000))
    ledger.letter(Letter("notify", "e9", 4000))
    assert ledger.waiting("notify") == 1
    ledger.resolution("deploy:e1", None)  # a tombstone: the resolution is gone
    assert ledger.waiting("deploy") == 2
