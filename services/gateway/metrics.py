"""The gateway's Prometheus metrics, in a registry of its own (one per app, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookgate.core.metrics import LATENCY_BUCKETS


class GatewayMetrics:
    def __init__(self, *, trigger_labels: bool = False) -> None:
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

    def count(self, outcome: str, reason: str, status: int, trigger: str | None) -> None:
        labels = {"outcome": outcome, "reason": reason, "status_class": f"{status // 100}xx"}
        if self.trigger_labels:
            labels["trigger"] = trigger or "unknown"
        self.requests.labels(**labels).inc()
