"""Gateway metrics: cached labelled children count into the same series as ``.labels()`` would."""

from __future__ import annotations

from hookgate.gateway.metrics import GatewayMetrics


def test_requests_are_counted_per_outcome_reason_and_status_class() -> None:
    m = GatewayMetrics()
    for _ in range(3):
        m.count("accepted", "ok", 202, "gh")
    m.count("rejected", "bad_signature", 401, "gh")
    m.count("rejected", "bad_signature", 403, "other")  # another status, same class: same series
    get = m.registry.get_sample_value
    assert get("hookgate_gateway_requests_total", {"outcome": "accepted", "reason": "ok", "status_class": "2xx"}) == 3
    labels = {"outcome": "rejected", "reason": "bad_signature", "status_class": "4xx"}
    assert get("hookgate_gateway_requests_total", labels) == 2


def test_trigger_labels_when_enabled() -> None:
    m = GatewayMetrics(trigger_labels=True)
    m.count("accepted", "ok", 202, "gh")
    m.count("accepted", "ok", 202, "gh")
    m.count("rejected", "unknown_trigger", 404, None)
    get = m.registry.get_sample_value
    ok = {"outcome": "accepted", "reason": "ok", "status_class": "2xx", "trigger": "gh"}
    unknown = {"outcome": "rejected", "reason": "unknown_trigger", "status_class": "4xx", "trigger": "unknown"}
    assert (get("hookgate_gateway_requests_total", ok), get("hookgate_gateway_requests_total", unknown)) == (2, 1)


def test_durations_and_in_flight() -> None:
    m = GatewayMetrics()
    m.observe_request("accepted", 0.004)
    m.observe_request("accepted", 0.02)
    m.observe_produce("ok", 0.003)
    m.observe_produce("timeout", 5.0)
    in_flight = [7]
    m.track_in_flight(lambda: in_flight[0])
    get = m.registry.get_sample_value
    assert get("hookgate_gateway_request_duration_seconds_count", {"outcome": "accepted"}) == 2
    assert get("hookgate_gateway_request_duration_seconds_sum", {"outcome": "accepted"}) == 0.024
    assert get("hookgate_gateway_produce_duration_seconds_count", {"outcome": "ok"}) == 1
    assert get("hookgate_gateway_produce_duration_seconds_count", {"outcome": "timeout"}) == 1
    assert get("hookgate_gateway_requests_in_flight") == 7
    in_flight[0] = 0
    assert get("hookgate_gateway_requests_in_flight") == 0
