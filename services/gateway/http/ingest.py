"""The webhook handler: the client's concurrency limit, then the chain of steps, then one count and one
audit line.

The steps themselves, and the order they run in, are in :mod:`hookgate.gateway.http.steps`. Every step
that rejects returns its reply at once; every reply is counted once and logged once, as its audit record.
The request's places in the concurrency budgets (:mod:`hookgate.gateway.intake.concurrency`) are held
by its ticket and all given back when it is answered.
"""

from __future__ import annotations

import re
import time

from aiohttp import web

from hookgate.core.ids import random_bytes
from hookgate.core.logging import get_logger
from hookgate.gateway.audit.record import Auditor
from hookgate.gateway.http.errors import error_response
from hookgate.gateway.http.steps import (
    Outcome,
    admit,
    answer_websub,
    apply_filter,
    authenticate_head,
    build_envelope,
    charge,
    check_encoding,
    check_media_type,
    check_method,
    check_size,
    decode_body,
    extract_variables,
    hold_body_place,
    parse,
    publish,
    read_body,
    refused,
    reply,
    route,
    shape,
    take_in_flight,
    verify,
)
from hookgate.gateway.intake.admission import Admission, Refusal
from hookgate.gateway.intake.clientip import ClientAddress
from hookgate.gateway.intake.concurrency import Ticket
from hookgate.gateway.intake.deadlines import BodyTiming
from hookgate.gateway.metrics import GatewayMetrics
from hookgate.gateway.publish.sink import EventSink
from hookgate.gateway.triggers import Trigger, TriggerRegistry

log = get_logger("hookgate.gateway")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class IngestHandler:
    """Serves ``/hooks/{trigger_id}``: accepted events go to ``sink``."""

    def __init__(
        self,
        registry: TriggerRegistry,
        sink: EventSink,
        metrics: GatewayMetrics,
        *,
        retry_after: int,
        admission: Admission,
        auditor: Auditor,
    ) -> None:
        self._admission = admission
        self._auditor = auditor
        self._registry = registry
        self._sink = sink
        self._metrics = metrics
        self._body_bytes = metrics.body_bytes
        self._retry_after = str(retry_after)
        self._body_timing = BodyTiming.from_limits(admission.limits)

    @property
    def admission(self) -> Admission:
        """The pre-body checks (updated when the trigger set changes at run time)."""
        return self._admission

    @property
    def auditor(self) -> Auditor:
        """The audit writer (its per-trigger redaction updated when the trigger set changes)."""
        return self._auditor

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        rid = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.match(rid):
            rid = random_bytes(16).hex()  # 32 hex digits like uuid4().hex, at a fifth of its cost
        trigger = self._registry.get(request.match_info.get("trigger_id", ""))
        client = self._admission.client(request)
        ticket = self._admission.enter(client)
        if isinstance(ticket, Refusal):  # this address has enough requests in progress: refuse before anything
            result = refused(ticket)
        else:
            try:
                result = await self.chain(request, trigger, client, ticket)
            except Exception:  # a bug still gets a JSON 500, counted and audited as outcome "error"
                log.exception("request_failed", request_id=rid)
                result = Outcome(error_response(500, "internal_error", "The request failed."), "error", "exception")
            finally:
                ticket.release()
        elapsed = time.perf_counter() - started
        status = result.response.status
        if status == 401 and trigger is not None:  # every authentication failure spends its address's bucket
            self._admission.failed_authentication(trigger.name, client)
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
        if result.close:
            await reply_and_close(request, result.response)
        return result.response

    async def chain(
        self, request: web.Request, trigger: Trigger | None, client: ClientAddress, ticket: Ticket
    ) -> Outcome:
        """The request's steps, top to bottom; the first that replies ends it (README: "How a webhook flows")."""
        flow = route(request, trigger, client)
        if isinstance(flow, Outcome):
            return flow
        admission = self._admission
        return (
            check_method(flow)
            or admit(flow, admission)
            or answer_websub(flow)
            or check_size(flow)
            or check_encoding(flow)
            or authenticate_head(flow)
            or await hold_body_place(flow, ticket, admission)
            or await read_body(flow, self._body_timing)
            or take_in_flight(ticket, admission)
            or decode_body(flow)
            or check_media_type(flow)
            or verify(flow)
            or charge(flow, self._admission)
            or parse(flow)
            or extract_variables(flow)
            or shape(flow)
            or apply_filter(flow)
            or build_envelope(flow)
            or reply(flow, await publish(flow, self._sink), self._retry_after, self._body_bytes)
        )


async def reply_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send ``response`` now, then close the connection.

    Otherwise aiohttp would linger after the reply, reading the rest of a body nobody waits for from a
    client already known to be too slow.
    """
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the client is gone already
    request.protocol.force_close()
