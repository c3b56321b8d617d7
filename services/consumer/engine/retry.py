"""Retry policy: exponential backoff with jitter, the target's ``Retry-After``, and an attempt limit.

The delays come from :func:`hookgate.core.backoff.backoff_delay`, the backoff every retry in hookgate uses.
Pure: the random source is injected so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.backoff import backoff_delay


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts every try, the first included; delays grow ``base * 2**(n-1)`` up to ``max_delay``."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay after failed attempt ``attempt`` (1-based): "equal jitter", i.e. uniform in [d/2, d].

        Half the delay is guaranteed so a dead target is not hammered; the random half spreads the
        retries of many events that failed together.
        """
        return backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, rand=rand)

    def next_delay(self, attempt: int, result: ActionResult, rand: Callable[[], float] = random.random) -> float | None:
        """Seconds to wait before the next attempt, or None when the event goes to the dead-letter topic.

        None when the result is not retryable (a 4xx that cannot succeed) or ``attempt`` was the last.
        A ``Retry-After`` hint is honoured (never retried sooner), capped at ``max_delay`` so one target
        cannot park an event for hours.
        """
        if result.ok:
            raise ValueError("a successful result is not retried")
        if not result.retryable or attempt >= self.attempts:
            return None
        delay = self.backoff(attempt, rand)
        if result.retry_after is not None and result.retry_after > 0:
            delay = max(delay, min(result.retry_after, self.max_delay))
        return delay
