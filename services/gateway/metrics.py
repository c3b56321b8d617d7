"""The gateway's Prometheus metrics, in a registry of its own (one per app, so tests can run several).

Labelled children are looked up once and kept: ``.labels()`` builds a key and takes a lock on every
call, and the request path counts each request several times. The label values are bounded (outcome,
reason and status codes, configured trigger names), so the caches are too.

The series that dashboards and alerts select exist at 0 from the start (:data:`PRECREATED`, every outcome's
latency, every produce outcome), so ``rate()`` and ``absent()`` answer before the first failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookgate.core.metrics import LATENCY_BUCKETS

OUTCOMES = ("accepted", "rejected", "ignored", "handshake", "failed", "error")
"""Every ``outcome`` a reply is counted under; ``error``: the handler raised (a 500)."""

PRODUCE_OUTCOMES = ("ok", "timeout", "error")

PRECREATED: tuple[tuple[str, str, int], ...] = (
    ("accepted", "ok", 202),
    ("failed", "overloaded", 503),  # shed: the in-flight limit or a full produce queue
    ("failed", "kafka_unavailable", 503),
    ("failed", "kafka_timeout", 503),  # the deadline passed after hand-over: the event may still be written
    ("failed", "kafka_timeout_dropped", 503),  # ... before it: never written
    ("failed", "kafka_error", 503),
    ("failed", "shutting_down", 503),
    ("rejected", "trigger_rate_limited", 429),
    ("rejected", "tenant_rate_limited", 429),
    ("rejected", "auth_failures_rate_limited", 429),  # an address's failed authentications spent
    ("error", "exception", 500),
    ("failed", "reading_overloaded", 503),  # no place among the requests waiting for their body
    ("rejected", "client_concurrency_limited", 429),
    ("rejected", "body_timeout", 408),
    ("rejected", "body_too_slow", 408),
)
"""(outcome, reason, status) of the request series that panels and alerts select, counted at 0 from the start
(once per configured trigger when trigger labels are on)."""


class GatewayMetrics:
    def __init__(self, *, trigger_labels: bool = False, triggers: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.trigger_labels = trigger_labels
        req_labels = ["outcome", "reason", "status_class"] + (["trigger"] if trigger_labels else [])
        self.requests = Counter(
            "hookgate_gateway_requests",
            "Webhook requests by outcome (accepted, rejected, ignored, handshake, failed), reason and status class.",
            req_labels,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "hookgate_gateway_request_duration_seconds",
            "Time from request received to reply, by outcome.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "hookgate_gateway_produce_duration_seconds",
            "Time from handing an event to the producer to the broker's acknowledgement.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "hookgate_gateway_requests_in_flight", "Webhook requests being handled.", registry=self.registry
        )
        self.body_bytes = Histogram(
            "hookgate_gateway_request_body_bytes",
            "Size of accepted webhook bodies.",
            buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
            registry=self.registry,
        )
        self.kafka_ready = Gauge(
            "hookgate_gateway_kafka_ready",
            "1 when the broker answered the last probe.",
            registry=self.registry,
        )
        self.connections_open = Gauge(
            "hookgate_gateway_connections_open",
            "Open client connections, by listener (webhooks, ops).",
            ["listener"],
            registry=self.registry,
        )
        self.connections_limit = Gauge(
            "hookgate_gateway_connections_limit",
            "Open connections a listener holds before it answers new ones 503 and closes them.",
            ["listener"],
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "hookgate_gateway_connections_refused",
            "Connections answered 503 and closed at once because their listener was at its connection limit.",
            ["listener"],
            registry=self.registry,
        )
        self.head_timeouts = Counter(
            "hookgate_gateway_head_timeouts",
            "Connections closed because no complete request head arrived within the head timeout.",
            ["listener"],
            registry=self.registry,
        )

        self._requests: dict[tuple[str, str, int, str | None], Counter] = {}
        self._request_seconds: dict[str, Histogram] = {}
        self._produce_seconds: dict[str, Histogram] = {}
        for name in list(triggers) if trigger_labels else [None]:
            for outcome, reason, status in PRECREATED:
                self._series((outcome, reason, status, name))
        for outcome in OUTCOMES:
            _child(self._request_seconds, self.request_seconds, outcome)
        for outcome in PRODUCE_OUTCOMES:
            _child(self._produce_seconds, self.produce_seconds, outcome)

    def add_triggers(self, triggers: Iterable[str]) -> None:
        """Create the pre-created series of triggers that appeared at run time (with trigger labels on)."""
        if not self.trigger_labels:
            return
        for name in triggers:
            for outcome, reason, status in PRECREATED:
                if (outcome, reason, status, name) not in self._requests:
                    self._series((outcome, reason, status, name))

    def count(self, outcome: str, reason: str, status: int, trigger: str | None) -> None:
        """Count one reply under its outcome, reason and status class (and trigger, when enabled)."""
        key = (outcome, reason, status, trigger if self.trigger_labels else None)
        child = self._requests.get(key)
        if child is None:
            child = self._series(key)
        child.inc()

    def _series(self, key: tuple[str, str, int, str | None]) -> Counter:
        outcome, reason, status, trigger = key
        labels = {"outcome": outcome, "reason": reason, "status_class": f"{status // 100}xx"}
        if self.trigger_labels:
            labels["trigger"] = trigger or "unknown"
        child = self._requests[key] = self.requests.labels(**labels)
        return child

    def observe_request(self, outcome: str, seconds: float) -> None:
        """One reply's time from request received, by outcome."""
        _child(self._request_seconds, self.request_seconds, outcome).observe(seconds)

    def observe_produce(self, outcome: str, seconds: float) -> None:
        """One event's time from hand-over to the broker's answer, by outcome (ok, timeout, error)."""
        _child(self._produce_seconds, self.produce_seconds, outcome).observe(seconds)

    def track_in_flight(self, count: Callable[[], int]) -> None:
        """Report the in-flight limiter's own count (read at scrape time, nothing to update per request)."""
        self.in_flight.set_function(count)

    def track_connections(self, listener: str, open_count: Callable[[], int], limit: int) -> tuple[Counter, Counter]:
        """The listener's connection series, at 0 from the start: the open count (read at scrape time), its
        limit, and the refused and head-timeout counters it returns for the listener's guard to count into."""
        self.connections_open.labels(listener).set_function(open_count)
        self.connections_limit.labels(listener).set(limit)
        return self.connections_refused.labels(listener), self.head_timeouts.labels(listener)


def _child(cache: dict[str, Histogram], histogram: Histogram, outcome: str) -> Histogram:
    child = cache.get(outcome)
    if child is None:
        child = cache[outcome] = histogram.labels(outcome)
    return child
