"""A request whose handler raises is still answered (a JSON 500), counted as outcome="error" and audited."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from hookgate.gateway.http import steps
from tests.support.builders import github_signature, github_trigger, new_trigger_id
from tests.support.gateway import running_gateway

pytestmark = pytest.mark.kafka

ERROR = {"outcome": "error", "reason": "exception", "status_class": "5xx"}


async def sample(client: TestClient, name: str, labels: dict[str, str]) -> float | None:
    """One sample of the gateway's own /metrics, as Prometheus would scrape it."""
    text = await (await client.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def test_a_handler_that_raises_is_a_counted_and_audited_500(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_trigger_id()

    def broken(*_args: object) -> tuple[str, str | None]:
        raise RuntimeError("a bug in shaping")

    async with running_gateway(kafka_bootstrap, topic_prefix, [github_trigger(tid)]) as client:
        assert await sample(client, "hookgate_gateway_requests_total", ERROR) == 0  # exists from the start
        monkeypatch.setattr(steps, "shape_event", broken)  # the step after verification raises
        body = b'{"zen": "oops"}'
        with capture_logs() as logs:
            resp = await client.post(
                f"/hooks/{tid}",
                data=body,
                headers={"X-Hub-Signature-256": github_signature(body), "X-Request-Id": "req-broken"},
            )
            assert resp.status == 500
            assert await resp.json() == {"error": "internal_error", "message": "The request failed."}
            assert resp.headers["X-Request-Id"] == "req-broken"

        assert await sample(client, "hookgate_gateway_requests_total", ERROR) == 1
        assert await sample(client, "hookgate_gateway_request_duration_seconds_count", {"outcome": "error"}) == 1
        audit = [e for e in logs if e.get("request_id") == "req-broken" and e["event"] == "audit"]
        assert len(audit) == 1
        assert (audit[0]["outcome"], audit[0]["reason"], audit[0]["status"]) == ("error", "exception", 500)
        failed = [e for e in logs if e["event"] == "request_failed"]
        assert len(failed) == 1
        assert failed[0]["request_id"] == "req-broken"
        assert failed[0]["log_level"] == "error"

        # The gateway goes on serving: the next request (handler fixed) is accepted.
        monkeypatch.undo()
        ok = await client.post(f"/hooks/{tid}", data=body, headers={"X-Hub-Signature-256": github_signature(body)})
        assert ok.status == 202
