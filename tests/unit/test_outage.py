"""DependencyWatch: a dependency's outage is one warning, rate-limited reminders and one info line."""

from __future__ import annotations

import pytest
import structlog
from structlog.testing import capture_logs

from hookgate.core.outage import DependencyWatch


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watch(clock: Clock, remind_every: float = 60.0) -> DependencyWatch:
    return DependencyWatch("kafka", remind_every=remind_every, clock=clock, logger=structlog.get_logger("t"))


def test_many_failures_are_one_warning_and_the_recovery_one_info_line() -> None:
    clock = Clock()
    watch = _watch(clock)
    with capture_logs() as logs:
        watch.up()  # the first success: the caller says it connected, the watch says nothing
        for _ in range(500):  # a retry every 50 ms for 25 s
            watch.down("KafkaConnectionError", "Connection refused")
            clock.now += 0.05
        watch.up()
        watch.up()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("kafka_unreachable", "warning"),
        ("kafka_reachable", "info"),
    ]
    went, back = logs
    assert (went["dependency"], went["reason"], went["detail"]) == (
        "kafka",
        "KafkaConnectionError",
        "Connection refused",
    )
    assert back["down_for_s"] == 25.0
    assert back["failures"] == 500
    assert watch.reachable is True


def test_a_long_outage_is_reminded_at_most_once_per_interval_with_how_long_it_lasts() -> None:
    clock = Clock()
    watch = _watch(clock, remind_every=60)
    with capture_logs() as logs:
        for _ in range(300):  # a probe every 2 s for 10 minutes
            watch.down("KafkaTimeoutError")
            clock.now += 2
    events = [e["event"] for e in logs]
    assert events[0] == "kafka_unreachable"
    reminders = [e for e in logs if e["event"] == "kafka_still_unreachable"]
    assert len(reminders) == 9  # at 60, 120, ... 540 s; the outage ends before the tenth
    assert [r["down_for_s"] for r in reminders] == [60.0 * i for i in range(1, 10)]
    assert all(r["log_level"] == "warning" and r["reason"] == "KafkaTimeoutError" for r in reminders)
    assert reminders[-1]["failures"] == 271


def test_a_first_failure_is_an_outage_and_each_new_outage_is_logged_again() -> None:
    clock = Clock()
    watch = _watch(clock)
    assert watch.reachable is None
    with capture_logs() as logs:
        watch.down("OSError")
        clock.now += 5
        watch.up()
        clock.now += 100
        watch.down("NodeNotReadyError")
        clock.now += 1
        watch.up()
    assert [e["event"] for e in logs] == ["kafka_unreachable", "kafka_reachable"] * 2
    assert [e["down_for_s"] for e in logs if e["event"] == "kafka_reachable"] == [5.0, 1.0]
    assert [e["failures"] for e in logs if e["event"] == "kafka_reachable"] == [1, 1]


def test_the_reminder_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="remind_every"):
        DependencyWatch("kafka", remind_every=0)
