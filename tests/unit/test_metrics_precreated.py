"""The series dashboards and alerts select exist at 0 before anything happened (rate() and absent() need them)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import generate_latest

from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.gateway.metrics import GatewayMetrics


@dataclass(frozen=True)
class _Wf:
    name: str
    target: str


def test_gateway_failure_series_exist_at_zero_before_any_request() -> None:
    m = GatewayMetrics()
    get = m.registry.get_sample_value
    for outcome, reason, status_class in [
        ("failed", "overloaded", "5xx"),
        ("failed", "kafka_timeout", "5xx"),
        ("failed", "kafka_unavailable", "5xx"),
        ("rejected", "trigger_rate_limited", "4xx"),
        ("error", "exception", "5xx"),
        ("accepted", "ok", "2xx"),
    ]:
        labels = {"outcome": outcome, "reason": reason, "status_class": status_class}
        assert get("hookgate_gateway_requests_total", labels) == 0, labels
    for outcome in ("accepted", "failed", "error"):
        assert get("hookgate_gateway_request_duration_seconds_count", {"outcome": outcome}) == 0
    assert get("hookgate_gateway_produce_duration_seconds_bucket", {"outcome": "timeout", "le": "+Inf"}) == 0


def test_gateway_counts_into_the_precreated_series() -> None:
    m = GatewayMetrics()
    m.count("failed", "kafka_timeout", 503, "gh")
    labels = {"outcome": "failed", "reason": "kafka_timeout", "status_class": "5xx"}
    assert m.registry.get_sample_value("hookgate_gateway_requests_total", labels) == 1


def test_gateway_precreates_per_configured_trigger_when_trigger_labels_are_on() -> None:
    m = GatewayMetrics(trigger_labels=True, triggers=["gh", "stripe"])
    get = m.registry.get_sample_value
    for trigger in ("gh", "stripe"):
        labels = {"outcome": "failed", "reason": "overloaded", "status_class": "5xx", "trigger": trigger}
        assert get("hookgate_gateway_requests_total", labels) == 0
    m.count("failed", "overloaded", 503, "gh")
    labels = {"outcome": "failed", "reason": "overloaded", "status_class": "5xx", "trigger": "gh"}
    assert get("hookgate_gateway_requests_total", labels) == 1


def test_consumer_fixed_vocabularies_exist_without_any_workflow() -> None:
    m = ConsumerMetrics()
    get = m.registry.get_sample_value
    assert get("hookgate_consumer_rebalances_total", {"kind": "assigned"}) == 0
    assert get("hookgate_consumer_rebalances_total", {"kind": "revoked"}) == 0
    assert get("hookgate_consumer_commits_total", {"outcome": "failed"}) == 0
    assert get("hookgate_consumer_assigned_partitions") == 0
    assert get("hookgate_consumer_dedupe_restored_records_total") == 0


def test_consumer_precreates_per_workflow_target_and_topic() -> None:
    m = ConsumerMetrics()
    m.follow([_Wf("on-push", "http://127.0.0.1:8080")], ["hookgate.acme"])
    get = m.registry.get_sample_value
    wf = {"workflow": "on-push"}
    assert get("hookgate_consumer_deliveries_total", {**wf, "outcome": "deadlettered"}) == 0
    assert get("hookgate_consumer_redrives_total", {**wf, "outcome": "succeeded"}) == 0
    assert get("hookgate_consumer_retries_total", {**wf, "reason": "circuit_open"}) == 0
    assert get("hookgate_consumer_actions_total", {**wf, "outcome": "rejected"}) == 0
    assert get("hookgate_consumer_events_matched_total", wf) == 0
    assert get("hookgate_consumer_action_duration_seconds_count", wf) == 0
    assert get("hookgate_consumer_end_to_end_seconds_count", wf) == 0
    assert get("hookgate_consumer_circuit_state", {"target": "http://127.0.0.1:8080"}) == 0
    assert get("hookgate_consumer_events_consumed_total", {"topic": "hookgate.acme"}) == 0
    assert get("hookgate_consumer_events_invalid_total", {"topic": "hookgate.acme"}) == 0


def test_consumer_workflows_added_later_have_series_at_the_next_scrape() -> None:
    live = [_Wf("first", "http://a:1")]
    m = ConsumerMetrics()
    m.follow(live)
    live.append(_Wf("added-by-reload", "http://b:2"))  # a reload swaps the set the metrics follow
    text = generate_latest(m.registry).decode()
    assert 'hookgate_consumer_deliveries_total{outcome="deadlettered",workflow="added-by-reload"} 0.0' in text
    assert 'hookgate_consumer_circuit_state{target="http://b:2"} 0.0' in text


def test_consumer_precreation_never_resets_a_value() -> None:
    m = ConsumerMetrics()
    wf = _Wf("w", "http://t:1")
    m.follow([wf])
    m.deliveries.labels("w", "deadlettered").inc()
    m.circuit.labels("http://t:1").set(2)
    generate_latest(m.registry)  # a scrape re-runs pre-creation
    get = m.registry.get_sample_value
    assert get("hookgate_consumer_deliveries_total", {"workflow": "w", "outcome": "deadlettered"}) == 1
    assert get("hookgate_consumer_circuit_state", {"target": "http://t:1"}) == 2


def test_consumer_retry_reasons_redrive_outcomes_and_waiting_letters_exist_at_zero() -> None:
    m = ConsumerMetrics()
    m.follow([_Wf("deploy", "http://ci:80")])
    get = m.registry.get_sample_value
    for reason in ("retry_requested", "exception", "status_5xx", "status_4xx", "error", "circuit_open"):
        assert get("hookgate_consumer_retries_total", {"workflow": "deploy", "reason": reason}) == 0, reason
    assert get("hookgate_consumer_redrives_total", {"workflow": "deploy", "outcome": "other_group"}) == 0
    assert get("hookgate_consumer_dead_letters_waiting", {"workflow": "deploy"}) == 0
