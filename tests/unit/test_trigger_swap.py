"""A trigger set swapped in at run time is served whole: routes, admission, audit redaction and metrics."""

from __future__ import annotations

from typing import Any

from hookgate.core.config import load_model
from hookgate.gateway.audit.record import AuditRecord
from hookgate.gateway.catalog.spec import new_trigger_id, validate
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import CATALOG, create_app, ingest_handler, trigger_swapper
from hookgate.gateway.intake.limits import LimitSettings, RateLimit, RateLimiter
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.triggers import TriggerRegistry
from tests.support.sinks import MemorySink
from tests.support.webhooks import webhook_request


def token_trigger(name: str, header: str, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": new_trigger_id(),
        "name": name,
        "tenant": "acme",
        "verify": {"type": "header_token", "header": header, "tokens": [token]},
        **extra,
    }


async def test_swapped_triggers_are_served_with_their_checks() -> None:
    first = token_trigger("first", "X-First", "t1")
    config = load_model(
        GatewayConfig,
        {"gateway": {"trigger_labels": True, "audit": {"include_headers": True}}, "triggers": [first]},
        "<test>",
        env={},
    )
    sink = MemorySink()
    metrics = GatewayMetrics(trigger_labels=True, triggers=["first"])
    registry = TriggerRegistry(config.triggers, config.kafka.topics, config.gateway.max_body_bytes)
    audited: list[AuditRecord] = []
    handler = ingest_handler(config, registry, sink, metrics, audited.append)
    swap = trigger_swapper(registry, sink, metrics, handler)

    later = token_trigger("later", "X-Relay-Key", "t2")
    fenced = token_trigger(
        "fenced", "X-Fenced", "t3", allow_ips=["10.0.0.0/8"], rate_limit={"per_second": 1, "burst": 1}
    )
    assert await swap([validate(later), validate(fenced)])

    gone = await handler.handle(
        webhook_request(first["id"], b"{}", {"X-First": "t1", "Content-Type": "application/json"})
    )
    assert gone.status == 404
    ok = await handler.handle(
        webhook_request(later["id"], b"{}", {"X-Relay-Key": "t2", "Content-Type": "application/json"})
    )
    assert ok.status == 202
    assert audited[-1].headers is not None
    assert audited[-1].headers["x-relay-key"] == "[redacted]"  # the new trigger's own token header
    outside = await handler.handle(webhook_request(fenced["id"], b"{}", {"X-Fenced": "t3"}))
    assert outside.status == 401  # the allowlist of a trigger added at run time applies
    labels = {"outcome": "rejected", "reason": "trigger_rate_limited", "status_class": "4xx", "trigger": "later"}
    assert metrics.registry.get_sample_value("hookgate_gateway_requests_total", labels) == 0.0  # pre-created


async def test_create_app_exposes_a_catalog_that_applies_yaml_reloads() -> None:
    first = token_trigger("first", "X-First", "t1")
    config = load_model(GatewayConfig, {"triggers": [first]}, "<test>", env={})
    app = create_app(config, sink=MemorySink())
    catalog = app[CATALOG]
    assert [v.name for v in catalog.list()] == ["first"]
    assert catalog.readiness() == (True, {})  # with an in-memory sink it follows no topic
    second = validate(token_trigger("second", "X-Second", "t2"))
    await catalog.set_yaml([second])
    assert [v.id for v in catalog.list()] == [second.id]
    assert [c.id for c in catalog.served()] == [second.id]


def test_rate_limit_buckets_follow_the_trigger_set_and_keep_their_tokens() -> None:
    now = [0.0]
    limits = LimitSettings()
    slow = RateLimit(per_second=0.001, burst=1)
    limiter = RateLimiter({"a": slow}, ["acme"], limits, lambda: now[0])
    assert limiter.acquire("a", "acme") is None
    assert limiter.acquire("a", "acme") is not None  # the one token is spent
    limiter.update({"a": slow, "b": slow}, ["acme"])  # b added: a's bucket is kept, still empty
    assert limiter.acquire("a", "acme") is not None
    assert limiter.acquire("b", "acme") is None
    limiter.update({"a": RateLimit(per_second=0.001, burst=2)}, ["acme"])  # a's limit changed: a new bucket
    assert limiter.acquire("a", "acme") is None
    assert limiter.acquire("b", "acme") is None  # b is gone: no bucket, no limit
    assert len(limiter) == 1
