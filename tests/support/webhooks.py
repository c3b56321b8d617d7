"""Webhook requests and a gateway handler without a server or a broker, for unit tests of the request chain.

The requests are aiohttp ``Request`` objects as the server would hand them over (headers, a body
stream, the route's match info, the peer address); the handler is the one ``create_app`` builds,
with an in-memory event sink (:class:`tests.support.sinks.MemorySink`) in place of Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from unittest import mock

from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from hookgate.gateway.audit.record import AuditRecord
from hookgate.gateway.config import GatewayConfig
from hookgate.gateway.http.app import ingest_handler
from hookgate.gateway.http.ingest import IngestHandler
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.triggers import TriggerRegistry
from tests.support.sinks import MemorySink

PEER = "198.51.100.7"


def webhook_request(
    trigger_id: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    subpath: str = "",
    query: str = "",
    peer: str = PEER,
    chunked: bool = False,
) -> web.Request:
    """``METHOD /hooks/{trigger_id}{subpath}?{query}`` with ``body`` (with its length, unless ``chunked``)."""
    hdrs = {"Host": "gateway.test", **(headers or {})}
    if body and not chunked:
        hdrs.setdefault("Content-Length", str(len(body)))
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (peer, 40000) if key == "peername" else default
    protocol = mock.Mock()
    payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    if body:
        payload.feed_data(body)
    payload.feed_eof()
    match_info = {"trigger_id": trigger_id, **({"subpath": subpath} if subpath else {})}
    path = f"/hooks/{trigger_id}{subpath}" + (f"?{query}" if query else "")
    return make_mocked_request(method, path, headers=hdrs, payload=payload, match_info=match_info, transport=transport)


@dataclass
class Chain:
    """A gateway's webhook handler over an in-memory sink, and what it counted and audited."""

    handler: IngestHandler
    sink: MemorySink
    metrics: GatewayMetrics
    audited: list[AuditRecord]

    async def send(self, request: web.Request) -> web.StreamResponse:
        return await self.handler.handle(request)

    def counted(self, outcome: str, reason: str, status_class: str) -> float:
        """``hookgate_gateway_requests_total`` for these labels (0 when never counted)."""
        labels = {"outcome": outcome, "reason": reason, "status_class": status_class}
        value = self.metrics.registry.get_sample_value("hookgate_gateway_requests_total", labels)
        return value or 0.0


def chain(config: GatewayConfig, sink: MemorySink | None = None) -> Chain:
    """The handler ``create_app`` composes for ``config``, publishing to ``sink`` (a fresh one by default)."""
    sink = sink if sink is not None else MemorySink()
    metrics = GatewayMetrics(trigger_labels=config.gateway.trigger_labels)
    registry = TriggerRegistry(config.triggers, config.kafka.topics, config.gateway.max_body_bytes)
    audited: list[AuditRecord] = []
    return Chain(ingest_handler(config, registry, sink, metrics, audited.append), sink, metrics, audited)
