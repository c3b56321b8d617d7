"""The webhook handler: the request's path through the gateway, one step after another.

in-flight limit -> route -> method -> admission (header limits, IP allowlist / client cert, rate limits)
-> size -> content type -> verify -> handshake (or WebSub GET challenge) -> body -> variables
-> type, subject -> filter -> envelope -> publish -> 202

Every step that rejects returns the reply at once; every reply is counted once and logged once, as its
audit record.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

import orjson
from aiohttp import web

from hookgate.core.envelope import EXT_TENANT, EXT_TRIGGER, EXT_VARS, Envelope, new_event_id
from hookgate.core.logging import get_logger
from hookgate.core.timestamps import rfc3339_ms
from hookgate.gateway.audit.record import Auditor
from hookgate.gateway.http.errors import NOT_FOUND, UNAUTHORIZED, error_response, json_response
from hookgate.gateway.intake.admission import Admission, Refusal
from hookgate.gateway.intake.clientip import ClientAddress
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.publisher import Publisher, PublishError
from hookgate.gateway.shaping.bodies import InvalidBody, LazyBody, ParsedBody, media_type
from hookgate.gateway.shaping.extract import RequestParts
from hookgate.gateway.shaping.handshakes import websub_challenge
from hookgate.gateway.shaping.templates import TemplateValues
from hookgate.gateway.triggers import Trigger, TriggerRegistry
from hookgate.gateway.verify.base import HandshakeReply, WebhookRequest

log = get_logger("hookgate.gateway")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(slots=True)
class Outcome:
    """What happened to one request: the reply plus the labels it is counted and logged under."""

    response: web.StreamResponse
    outcome: str
    reason: str
    event_id: str | None = None


class IngestHandler:
    """Serves ``/hooks/{trigger_id}``."""

    def __init__(
        self,
        registry: TriggerRegistry,
        publisher: Publisher,
        metrics: GatewayMetrics,
        *,
        publish_timeout: float,
        retry_after: int,
        admission: Admission,
        auditor: Auditor,
    ) -> None:
        self._admission = admission
        self._auditor = auditor
        self._registry = registry
        self._publisher = publisher
        self._metrics = metrics
        self._publish_timeout = publish_timeout
        self._retry_after = str(retry_after)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        rid = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.match(rid):
            rid = os.urandom(16).hex()  # 32 hex digits like uuid4().hex, at a fifth of its cost
        trigger = self._registry.get(request.match_info.get("trigger_id", ""))
        client = self._admission.client(request)
        if not self._admission.in_flight.try_acquire():  # shed before reading anything more
            result = _refused(self._admission.overloaded())
        else:
            try:
                result = await self._handle(request, trigger, client)
            except Exception:  # a bug still gets a JSON 500, counted and audited as outcome "error"
                log.exception("request_failed", request_id=rid)
                result = Outcome(error_response(500, "internal_error", "The request failed."), "error", "exception")
            finally:
                self._admission.in_flight.release()
        elapsed = time.perf_counter() - started
        status = result.response.status
        name = trigger.name if trigger else None
        self._metrics.count(result.outcome, result.reason, status, name)
        self._metrics.observe_request(result.outcome, elapsed)
        result.response.headers["X-Request-Id"] = rid
        # The request's one log line (the audit record, see hookgate.gateway.audit.record).
        self._auditor.request(
            request,
            request_id=rid,
            trigger=name,
            tenant=trigger.tenant if trigger else None,
            client=client,
            outcome=result.outcome,
            reason=result.reason,
            status=status,
            event_id=result.event_id,
            seconds=elapsed,
        )
        return result.response

    async def _handle(self, request: web.Request, trigger: Trigger | None, client: ClientAddress) -> Outcome:
        if trigger is None:
            return Outcome(error_response(*NOT_FOUND), "rejected", "unknown_trigger")
        cfg = trigger.config
        subpath = request.match_info.get("subpath", "")
        if subpath and not cfg.allow_subpaths:
            return Outcome(error_response(*NOT_FOUND), "rejected", "unknown_path")
        websub = cfg.websub is not None and request.method == "GET" and "hub.challenge" in request.query
        if request.method not in cfg.methods and not websub:
            return Outcome(
                error_response(
                    405,
                    "method_not_allowed",
                    f"Use {', '.join(cfg.methods)}.",
                    {"Allow": ", ".join(cfg.methods)},
                ),
                "rejected",
                "method_not_allowed",
            )
        refusal = (
            self._admission.head(request)
            or self._admission.network(trigger.name, client, request)
            or self._admission.rate(trigger.name, trigger.tenant)
        )
        if refusal is not None:
            return _refused(refusal)
        if websub:
            return _websub(request, trigger, client)
        if request.content_length is not None and request.content_length > trigger.max_body_bytes:
            return _too_large(trigger)
        body = await _read_limited(request, trigger.max_body_bytes)
        if body is None:
            return _too_large(trigger)
        content_type = request.headers.get("Content-Type", "")
        media = media_type(content_type)
        if body and content_type and not media.accepted:
            return Outcome(
                error_response(415, "unsupported_media_type", "This content type is not accepted."),
                "rejected",
                "unsupported_media_type",
            )
        shared_body = LazyBody(body, media)  # parsed at most once, by verification or the handler
        verdict = trigger.verifier.verify(
            WebhookRequest(
                method=request.method,
                url=client.url,
                headers=request.headers,
                body=body,
                query=request.query,
                client_ip=client.ip,
                now=time.time(),
                shared_body=shared_body,
            )
        )
        if not verdict.ok:
            return Outcome(error_response(*UNAUTHORIZED), "rejected", verdict.reason)
        if verdict.handshake is not None:  # the sender validating the endpoint: answer, never produce
            return _handshake(verdict.handshake, "handshake", verdict.delivery_id)

        parsed: ParsedBody | None = None
        if trigger.should_parse(media.kind):
            try:
                parsed = shared_body.parsed()
            except InvalidBody as exc:
                if not cfg.accept_raw:
                    return Outcome(error_response(400, "invalid_body", str(exc)), "rejected", "invalid_body")
        event_id = verdict.delivery_id or new_event_id()
        try:  # a body too deep for a trigger's JSONPaths is refused like one that does not parse
            variables = (
                trigger.extractor.extract(RequestParts(request.headers, request.query, subpath, parsed))
                if trigger.extractor
                else {}
            )
            builtins = {"tenant": trigger.tenant, "trigger": trigger.name, "id": event_id}
            values = TemplateValues(builtins, variables, request.headers, request.query, parsed)
            event_type, subject = shape_event(trigger, verdict.event_type or cfg.type, verdict.subject, values)
            key = trigger.key_template.render(values)
        except InvalidBody as exc:
            return Outcome(error_response(400, "invalid_body", str(exc)), "rejected", "invalid_body")
        if trigger.ingress_filter is not None:
            ignored = trigger.ingress_filter.ignore_reason(values)
            if ignored is not None:
                return Outcome(json_response(200, {"ignored": True}), "ignored", ignored, event_id)

        extensions = {EXT_TENANT: trigger.tenant, EXT_TRIGGER: trigger.name}
        if variables:
            extensions[EXT_VARS] = orjson.dumps(variables).decode()
        envelope = Envelope(
            id=event_id,
            source=trigger.source,
            type=event_type,
            data=body,
            time=rfc3339_ms(),
            subject=subject,
            datacontenttype=content_type or ("application/octet-stream" if body else None),
            extensions=extensions,
        )
        try:
            await self._publisher.publish(trigger.topic, key.encode(), envelope, self._publish_timeout)
        except PublishError as exc:
            return Outcome(
                error_response(
                    503,
                    "unavailable",
                    "The event could not be stored; retry later.",
                    {"Retry-After": self._retry_after},
                ),
                "failed",
                exc.reason,
                event_id,
            )
        self._metrics.body_bytes.observe(len(body))
        reply = trigger.reply
        response = web.Response(
            status=reply.status, body=reply.body_for(event_id), headers={"Content-Type": reply.content_type}
        )
        return Outcome(response, "accepted", "ok", event_id)


def shape_event(
    trigger: Trigger, default_type: str, default_subject: str | None, values: TemplateValues
) -> tuple[str, str | None]:
    """The event's ``type`` and ``subject``: the trigger's templates when set, else the defaults.

    Fills ``values.builtins`` with the final ``type`` and ``subject`` as it goes, for the key template.
    A template that renders empty falls back to the default.
    """
    builtins = values.builtins
    builtins["type"] = default_type
    builtins["subject"] = default_subject or ""
    event_type = default_type
    if trigger.type_template is not None:
        event_type = trigger.type_template.render(values) or default_type
        builtins["type"] = event_type
    subject = default_subject
    if trigger.subject_template is not None:
        subject = trigger.subject_template.render(values) or default_subject
        builtins["subject"] = subject or ""
    return event_type, subject


def _handshake(reply: HandshakeReply, reason: str, event_id: str | None = None) -> Outcome:
    response = web.Response(status=reply.status, body=reply.body, headers={"Content-Type": reply.content_type})
    return Outcome(response, "handshake", reason, event_id)


def _websub(request: web.Request, trigger: Trigger, client: ClientAddress) -> Outcome:
    """WebSub intent verification (an unsigned GET): echo the challenge, or 404 to decline."""
    reply = websub_challenge(
        WebhookRequest(
            method=request.method,
            url=client.url,
            headers=request.headers,
            body=b"",
            query=request.query,
            client_ip=client.ip,
            now=time.time(),
        ),
        trigger.websub_token,
    )
    if reply is None:
        return Outcome(error_response(*NOT_FOUND), "rejected", "websub_declined")
    return _handshake(reply, "websub")


def _refused(refusal: Refusal) -> Outcome:
    return Outcome(
        error_response(refusal.status, refusal.code, refusal.message, refusal.headers),
        refusal.outcome,
        refusal.reason,
    )


def _too_large(trigger: Trigger) -> Outcome:
    return Outcome(
        error_response(413, "payload_too_large", f"The body exceeds {trigger.max_body_bytes} bytes."),
        "rejected",
        "payload_too_large",
    )


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it exceeds ``limit`` (chunked bodies have no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
