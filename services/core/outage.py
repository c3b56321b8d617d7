"""A dependency's outage as three kinds of log line, not one line per retry.

Retry loops and probes call :meth:`DependencyWatch.down` on every failure and :meth:`DependencyWatch.up`
on every success; the watch logs only the transitions and a reminder:

- ``{name}_unreachable`` (warning), once, when the dependency goes: the first failure's reason, and
  ``client_error``, the latest Kafka client retry line that :class:`~hookgate.core.logging.ClientRetryNoise`
  turned down (it has the network's own words: refused, name not known, timed out);
- ``{name}_still_unreachable`` (warning) at most every ``remind_every`` seconds while it stays down,
  with how long it has been down, how many attempts failed and the latest reason;
- ``{name}_reachable`` (info), once, when it is back, with how long it was down.

So a 25 s broker outage is two lines per dependency whatever the retry rate, and an alert on the error
or warning rate counts outages, not retries. The reminder needs no timer of its own: it is written by
the first failure reported after the interval, and every caller retries or probes well within it.

Before the first report the state is unknown: a first success logs nothing (the caller says it
connected), a first failure is an outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from hookgate.core.logging import get_logger, recent_client_retry

REMIND_EVERY_S = 60.0
"""Seconds between reminders while a dependency stays down."""


class DependencyWatch:
    """The reachability of one dependency (``name``: ``kafka``, ``audit_topic``...), logged on change.

    ``clock`` returns monotonic seconds; it and ``logger`` are injected by tests.
    """

    def __init__(
        self,
        name: str,
        *,
        remind_every: float = REMIND_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        logger: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        if remind_every <= 0:
            raise ValueError("remind_every must be positive")
        self.name = name
        self._remind_every = remind_every
        self._clock = clock
        self._log = logger if logger is not None else get_logger("hookgate.outage")
        # Built once: a watch reports on every retry, the names never change.
        self._went = f"{name}_unreachable"
        self._still = f"{name}_still_unreachable"
        self._back = f"{name}_reachable"
        self._reachable: bool | None = None
        self._down_since = 0.0
        self._last_line = 0.0
        self._failures = 0

    @property
    def reachable(self) -> bool | None:
        """True or False as last reported; None before the first report."""
        return self._reachable

    def down(self, reason: str, detail: str | None = None) -> None:
        """Report a failed attempt or probe: ``reason`` is short and stable (an exception class name)."""
        now = self._clock()
        if self._reachable is not False:
            self._reachable = False
            self._down_since = self._last_line = now
            self._failures = 1
            self._log.warning(self._went, dependency=self.name, reason=reason, detail=detail, **self._client())
            return
        self._failures += 1
        if now - self._last_line >= self._remind_every:
            self._last_line = now
            self._log.warning(
                self._still,
                dependency=self.name,
                down_for_s=round(now - self._down_since, 1),
                failures=self._failures,
                reason=reason,
                detail=detail,
                **self._client(),
            )

    def _client(self) -> dict[str, str]:
        said = recent_client_retry(self._remind_every)
        return {"client_error": said} if said is not None else {}

    def up(self) -> None:
        """Report a successful attempt or probe."""
        if self._reachable is False:
            self._log.info(
                self._back,
                dependency=self.name,
                down_for_s=round(self._clock() - self._down_since, 1),
                failures=self._failures,
            )
        self._reachable = True
