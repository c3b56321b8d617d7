from __future__ import annotations

import pytest

from hookgate.consumer.engine.retry import RetryPolicy
from hookgate.consumer.workflows.workflow import ActionResult

FAIL = ActionResult(ok=False, status=503, error="HTTP 503")


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    p = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    assert [p.backoff(n, lambda: 1.0) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [p.backoff(n, lambda: 0.0) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]


def test_attempts_are_counted_with_the_first_one() -> None:
    p = RetryPolicy(attempts=3, base_delay=1.0, max_delay=10.0)
    assert p.next_delay(1, FAIL, lambda: 0.5) == 0.75
    assert p.next_delay(2, FAIL, lambda: 0.5) == 1.5
    assert p.next_delay(3, FAIL, lambda: 0.5) is None  # third attempt failed: dead letter


def test_non_retryable_results_go_straight_to_the_dead_letter_topic() -> None:
    p = RetryPolicy(attempts=5)
    assert p.next_delay(1, ActionResult(ok=False, status=400, error="HTTP 400", retryable=False)) is None


def test_retry_after_is_honoured_up_to_the_maximum_delay() -> None:
    p = RetryPolicy(attempts=5, base_delay=0.5, max_delay=30.0)
    assert p.next_delay(1, ActionResult(ok=False, status=429, retry_after=7.0), lambda: 0.0) == 7.0
    assert p.next_delay(1, ActionResult(ok=False, status=503, retry_after=3600.0), lambda: 0.0) == 30.0
    # A hint shorter than the backoff never makes the retry sooner.
    assert p.next_delay(4, ActionResult(ok=False, status=503, retry_after=0.1), lambda: 1.0) == 4.0


def test_a_success_is_not_retried() -> None:
    with pytest.raises(ValueError, match="not retried"):
        RetryPolicy().next_delay(1, ActionResult(ok=True))
