"""A request whose handler raises is still answered (a JSON 500), counted as outcome="error" and audited."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from hookgate.gateway.http import ingest
from hookgate.gateway.http.app import METRICS, PUBLISHER, create_app
from tests.support.builders import gateway_config, github_signature, github_trigger, new_trigger_id

pytestmark = pytest.mark.kafka

ERROR = {"outcome": "error", "reason": "exception", "status_class": "5xx"}


async def test_a_handler_that_raises_is_a_counted_and_audited_500(
    kafka_bootstrap: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_trigger_id()
    app = create_app(gateway_config(kafka_bootstrap, topic_prefix, [github_trigger(tid)]))

    def broken(*_args: object) -> tuple[str, str | None]:
        raise RuntimeError("a bug in shaping")

    async with TestClient(TestServer(app)) as client:
        assert await app[PUBLISHER].wait_ready(30)
        registry = app[METRICS].registry
        assert registry.get_sample_value("hookgate_gateway_requests_total", ERROR) == 0  # exists from the start
        monkeypatch.setattr(ingest, "shape_event", broken)  # the step after verification raises
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

        assert registry.get_sample_value("hookgate_gateway_requests_total", ERROR) == 1
        assert registry.get_sample_value("hookgate_gateway_request_duration_seconds_count", {"outcome": "error"}) == 1
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
