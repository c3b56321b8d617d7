"""The consumer's Prometheus metrics, in a registry of its own.

Labels stay bounded: topic and partition (bounded by the topics subscribed), workflow (by config),
target (scheme://host:port of configured URLs), outcome and reason (fixed vocabularies).

Every series a dashboard or alert selects exists at 0 from the start: the fixed vocabularies here, and
per workflow, target and configured topic once :meth:`ConsumerMetrics.follow` is given the workflow set
(re-checked at each scrape, so workflows added by a reload have their series before their first event).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from hookgate.core.metrics import LATENCY_BUCKETS

# End-to-end latency includes queueing and retries, so it reaches further than one action.
E2E_BUCKETS = (*LATENCY_BUCKETS, 30.0, 60.0, 300.0)

DELIVERY_OUTCOMES = ("succeeded", "deadlettered", "deduplicated")
REDRIVE_OUTCOMES = ("succeeded", "deadlettered", "deduplicated", "other_workflow", "other_group")
RETRY_REASONS = ("retry_requested", "exception", "status_5xx", "status_4xx", "error", "circuit_open")
"""retry_requested: a handler raised ``Retry``; exception: a handler raised (``Fail`` included); status_*: an
HTTP answer; error: a transport failure or a handler timeout; circuit_open: the target's breaker was open."""
ACTION_OUTCOMES = ("succeeded", "failed", "rejected")


class Followed(Protocol):
    """What pre-creation needs of a workflow (a :class:`~hookgate.consumer.workflows.workflow.Workflow`)."""

    @property
    def name(self) -> str: ...

    @property
    def target(self) -> str: ...


class WorkflowMeters:
    """The series of one workflow, with their labels resolved once: the engine touches them per event."""

    __slots__ = (
        "action_seconds",
        "actions",
        "deliveries",
        "end_to_end_seconds",
        "matched",
        "redrives",
        "retries",
        "waiting",
    )

    def __init__(self, metrics: ConsumerMetrics, name: str) -> None:
        self.matched = metrics.matched.labels(name)
        self.action_seconds = metrics.action_seconds.labels(name)
        self.end_to_end_seconds = metrics.end_to_end_seconds.labels(name)
        self.deliveries = {o: metrics.deliveries.labels(name, o) for o in DELIVERY_OUTCOMES}
        self.redrives = {o: metrics.redrives.labels(name, o) for o in REDRIVE_OUTCOMES}
        self.retries = {r: metrics.retries.labels(name, r) for r in RETRY_REASONS}
        self.actions = {o: metrics.actions.labels(name, o) for o in ACTION_OUTCOMES}
        self.waiting = metrics.dead_letters_waiting.labels(name)


class ConsumerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # First in the registry, so a scrape creates the series of new workflows before it reads the metrics.
        r.register(_FollowAtScrape(self))
        self._workflows: Iterable[Followed] = ()
        self._seen: set[tuple[str, str]] = set()
        self._meters: dict[str, WorkflowMeters] = {}
        self.consumed = Counter("hookgate_consumer_events_consumed", "Records read from Kafka.", ["topic"], registry=r)
        self.invalid = Counter(
            "hookgate_consumer_events_invalid",
            "Records that are not hookgate CloudEvents (skipped).",
            ["topic"],
            registry=r,
        )
        self.matched = Counter(
            "hookgate_consumer_events_matched", "Events matched to a workflow.", ["workflow"], registry=r
        )
        self.deliveries = Counter(
            "hookgate_consumer_deliveries",
            "Events finished per workflow by outcome: succeeded, deadlettered, deduplicated (already done before).",
            ["workflow", "outcome"],
            registry=r,
        )
        self.redrives = Counter(
            "hookgate_consumer_redrives",
            "Re-driven dead letters per workflow by outcome: succeeded, deadlettered (failed again),"
            " deduplicated (already succeeded, or this re-drive already ran it), other_workflow (not the one"
            " the re-drive is for), other_group (a re-drive for another consumer group).",
            ["workflow", "outcome"],
            registry=r,
        )
        self.dead_letters_waiting = Gauge(
            "hookgate_consumer_dead_letters_waiting",
            "Dead letters of this group not resolved by a successful re-drive, per workflow (distinct events;"
            " every member reports the whole group's count: aggregate with max, not sum).",
            ["workflow"],
            registry=r,
        )
        self.retries = Counter(
            "hookgate_consumer_retries",
            "Attempts scheduled again after a failure, by reason: retry_requested (the handler raised Retry),"
            " exception (the handler raised), status_5xx, status_4xx, error (transport failure or timeout),"
            " circuit_open.",
            ["workflow", "reason"],
            registry=r,
        )
        self.actions = Counter(
            "hookgate_consumer_actions",
            "Workflow action attempts by outcome (succeeded, failed, rejected by an open circuit).",
            ["workflow", "outcome"],
            registry=r,
        )
        self.action_seconds = Histogram(
            "hookgate_consumer_action_duration_seconds",
            "Duration of one workflow action attempt.",
            ["workflow"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end_seconds = Histogram(
            "hookgate_consumer_end_to_end_seconds",
            "From the event's CloudEvents time to its workflow action finishing successfully.",
            ["workflow"],
            buckets=E2E_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "hookgate_consumer_lag_records",
            "Records of an assigned partition not yet finished: high watermark minus committable offset.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned = Gauge(
            "hookgate_consumer_assigned_partitions",
            "Partitions this member currently owns (of its source topics and of its group's re-drive topic).",
            registry=r,
        )
        self.in_flight = Gauge("hookgate_consumer_in_flight_records", "Records read but not finished.", registry=r)
        self.rebalances = Counter(
            "hookgate_consumer_rebalances", "Partition assignments and revocations.", ["kind"], registry=r
        )
        self.circuit = Gauge(
            "hookgate_consumer_circuit_state",
            "Circuit breaker state per target: 0 closed, 1 half-open, 2 open.",
            ["target"],
            registry=r,
        )
        self.commits = Counter("hookgate_consumer_commits", "Offset commits by outcome.", ["outcome"], registry=r)
        self.dedupe_entries = Gauge(
            "hookgate_consumer_dedupe_entries", "Finished runs held in memory by the dedupe store.", registry=r
        )
        self.dedupe_evictions = Counter(
            "hookgate_consumer_dedupe_evictions",
            "Finished runs dropped from memory before their retention because the store was full"
            " (consumer.dedupe.max_entries); their events would run again if redelivered.",
            registry=r,
        )
        self.dedupe_restored = Counter(
            "hookgate_consumer_dedupe_restored_records",
            "Changelog records read while restoring dedupe state on assignment.",
            registry=r,
        )
        for kind in ("assigned", "revoked"):
            self.rebalances.labels(kind)
        for outcome in ("ok", "failed"):
            self.commits.labels(outcome)

    def workflow(self, name: str) -> WorkflowMeters:
        """The series of workflow ``name`` (created at 0 on first use)."""
        meters = self._meters.get(name)
        if meters is None:
            meters = self._meters[name] = WorkflowMeters(self, name)
        return meters

    def follow(self, workflows: Iterable[Followed], topics: Sequence[str] = ()) -> None:
        """Create the series of ``workflows`` (a live set: iterated again at each scrape) and of ``topics``."""
        self._workflows = workflows
        for topic in topics:
            self.consumed.labels(topic)
            self.invalid.labels(topic)
        self.precreate()

    def precreate(self) -> None:
        """Create at 0 the series of every followed workflow and target not seen before."""
        for wf in self._workflows:
            if ("workflow", wf.name) not in self._seen:
                self._seen.add(("workflow", wf.name))
                self._workflow_series(wf.name)
            if ("target", wf.target) not in self._seen:
                self._seen.add(("target", wf.target))
                self.circuit.labels(wf.target)  # 0 = closed: no breaker has opened for it

    def _workflow_series(self, name: str) -> None:
        self.workflow(name)


class _FollowAtScrape(Collector):
    """Exports nothing; collecting it pre-creates the series of workflows added since the last scrape."""

    def __init__(self, metrics: ConsumerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        self._metrics.precreate()
        return iter(())
