"""The consumer's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from hookgate.core.metrics import LATENCY_BUCKETS


class ConsumerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.consumed = Counter(
            "hookgate_consumer_events_consumed", "Records read from Kafka.", ["topic"], registry=self.registry
        )
        self.invalid = Counter(
            "hookgate_consumer_events_invalid",
            "Records that are not hookgate CloudEvents (skipped).",
            ["topic"],
            registry=self.registry,
        )
        self.matched = Counter(
            "hookgate_consumer_events_matched",
            "Events matched to a workflow.",
            ["workflow"],
            registry=self.registry,
        )
        self.actions = Counter(
            "hookgate_consumer_actions",
            "Workflow action attempts by outcome (succeeded, failed).",
            ["workflow", "outcome"],
            registry=self.registry,
        )
        self.action_seconds = Histogram(
            "hookgate_consumer_action_duration_seconds",
            "Duration of one workflow action attempt.",
            ["workflow"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.commits = Counter(
            "hookgate_consumer_commits", "Offset commits by outcome.", ["outcome"], registry=self.registry
        )
