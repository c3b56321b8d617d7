"""Per-target circuit breaker: stop hammering a target that keeps failing.

closed -> (``failure_threshold`` consecutive failures) -> open -> (``reset_seconds`` later) -> half-open,
where one probe at a time is let through: its success closes the breaker, its failure opens it again.
Pure state machine; the clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class BreakerState(IntEnum):
    """Values as exported by the ``hookgate_consumer_circuit_state`` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """May an attempt go to the target now? In half-open, only one probe until it reports back."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def abandon(self) -> None:
        """An attempt :meth:`allow` let through ended without an outcome (cancelled): free the probe slot."""
        self._probing = False

    def record(self, ok: bool) -> None:
        """Report the outcome of an attempt that :meth:`allow` let through."""
        self._probing = False
        if ok:
            self._failures = 0
            self._set(BreakerState.CLOSED)
            return
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)


class Breakers:
    """One breaker per target (``Workflow.target``), created on first use."""

    def __init__(self, factory: Callable[[str], CircuitBreaker]) -> None:
        self._factory = factory
        self._by_target: dict[str, CircuitBreaker] = {}

    def get(self, target: str) -> CircuitBreaker:
        breaker = self._by_target.get(target)
        if breaker is None:
            breaker = self._by_target[target] = self._factory(target)
        return breaker
