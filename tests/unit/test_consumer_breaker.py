from __future__ import annotations

from hookgate.consumer.engine.breaker import Breakers, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_then_probes_once_and_closes() -> None:
    clock = Clock()
    changes: list[BreakerState] = []
    b = CircuitBreaker(failure_threshold=3, reset_seconds=10, clock=clock, on_change=changes.append)
    for _ in range(2):
        assert b.allow()
        b.record(False)
    assert b.allow()
    b.record(True)  # a success resets the count
    for _ in range(3):
        assert b.allow()
        b.record(False)
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()  # the one probe
    assert not b.allow()  # nobody else while it is out
    b.record(True)
    assert b.state is BreakerState.CLOSED
    assert b.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_opens_it_again_for_a_full_period() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_seconds=5, clock=clock)
    b.allow()
    b.record(False)
    clock.now += 5
    assert b.allow()
    b.record(False)
    assert b.state is BreakerState.OPEN
    clock.now += 4.9
    assert not b.allow()


def test_one_breaker_per_target() -> None:
    made: list[str] = []

    def factory(target: str) -> CircuitBreaker:
        made.append(target)
        return CircuitBreaker(1)

    breakers = Breakers(factory)
    a = breakers.get("http://a:1")
    assert breakers.get("http://a:1") is a
    a.record(False)
    assert breakers.get("http://b:2").allow()
    assert made == ["http://a:1", "http://b:2"]


def test_an_abandoned_probe_frees_the_slot_without_changing_state() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_seconds=5, clock=clock)
    b.allow()
    b.record(False)
    clock.now += 5
    assert b.allow()
    b.abandon()  # the probe was cancelled
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()
