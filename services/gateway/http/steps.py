"""The steps a webhook request goes through, each a small function that either replies or lets it go on.

A step takes the request's :class:`Flow` and returns ``None`` (go on: it filled in what it found) or an
:class:`Outcome` (the reply; no later step runs). :class:`~hookgate.gateway.http.ingest.IngestHandler`
chains them in the order README's "How a webhook flows" draws:

    route -> method -> admission -> WebSub challenge -> size -> content coding -> header-only authentication
    -> read body (deadline, minimum rate) -> in-flight place -> decode body -> media type
    -> verify (handshakes answered here) -> charge rate limits -> parse body -> variables
    -> type/subject/key -> filter -> envelope -> publish -> reply

Steps are plain functions and the flow is the one object made per request, so the chain costs a few
calls, not an object per step. Only reading the body and publishing await.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass

import orjson
from aiohttp import web
from prometheus_client import Histogram

from hookgate.core.envelope import EXT_TENANT, EXT_TRIGGER, EXT_VARS, Envelope, new_event_id
from hookgate.core.timestamps import rfc3339_ms
from hookgate.gateway.http.errors import NOT_FOUND, UNAUTHORIZED, error_response, json_response
from hookgate.gateway.intake.admission import Admission, Refusal
from hookgate.gateway.intake.clientip import ClientAddress
from hookgate.gateway.intake.concurrency import Ticket
from hookgate.gateway.intake.deadlines import DEFAULT_TIMING, BodyTiming, BodyTooSlow, timed_chunks
from hookgate.gateway.publish.sink import Ack, EventSink, PublishResult
from hookgate.gateway.shaping.bodies import InvalidBody, LazyBody, MediaType, ParsedBody, media_type
from hookgate.gateway.shaping.encoding import DecodedTooLarge, content_codings
from hookgate.gateway.shaping.extract import RequestParts
from hookgate.gateway.shaping.handshakes import websub_challenge
from hookgate.gateway.shaping.templates import TemplateValues
from hookgate.gateway.triggers import Trigger
from hookgate.gateway.verify.base import HandshakeReply, Verdict, WebhookRequest

_READ_CHUNK = 65536
READING_PATIENCE_SECONDS = 0.5
"""How long a body still in transit may take to complete when no reading place is free."""


@dataclass(slots=True)
class Outcome:
    """What happened to one request: the reply plus the labels it is counted and logged under."""

    response: web.StreamResponse
    outcome: str
    reason: str
    event_id: str | None = None
    close: bool = False  # close the connection once replied (the rest of the body is not worth waiting for)


class Flow:
    """One request on its way through the steps: what each step found, for the steps after it.

    :func:`route` makes it; every later step sets the attributes its docstring names, and reads only
    those set by steps before it. (An attribute no step has set yet is absent, not ``None``: a test
    that runs a step alone first runs the steps before it.)
    """

    __slots__ = (
        "body",
        "client",
        "coding",
        "content_type",
        "envelope",
        "event_id",
        "event_type",
        "key",
        "lazy",
        "media",
        "parsed",
        "request",
        "signed",
        "subject",
        "subpath",
        "trigger",
        "values",
        "variables",
        "verdict",
        "websub",
    )

    request: web.Request
    trigger: Trigger
    client: ClientAddress
    subpath: str
    websub: bool  # check_method: an unsigned WebSub intent-verification GET
    coding: str | None  # check_encoding: the body's content coding, None when it is not encoded
    body: bytes  # read_body; decode_body replaces it by the decoded body
    signed: bytes  # decode_body: the bytes verification checks (decoded, or as received when configured)
    content_type: str  # check_media_type
    media: MediaType  # check_media_type
    lazy: LazyBody  # check_media_type: parsed at most once, by whichever of verify and parse needs it first
    verdict: Verdict  # verify
    parsed: ParsedBody | None  # parse: None when the body was not parsed (not needed, or raw accepted)
    variables: dict[str, str]  # extract_variables
    event_id: str  # shape
    values: TemplateValues  # shape
    event_type: str  # shape
    subject: str | None  # shape
    key: bytes  # shape
    envelope: Envelope  # build_envelope

    def __init__(self, request: web.Request, trigger: Trigger, client: ClientAddress, subpath: str) -> None:
        self.request = request
        self.trigger = trigger
        self.client = client
        self.subpath = subpath


def route(request: web.Request, trigger: Trigger | None, client: ClientAddress) -> Flow | Outcome:
    """404 for an unknown (or disabled) trigger, or a sub-path the trigger does not serve; else the flow."""
    if trigger is None:
        return Outcome(error_response(*NOT_FOUND), "rejected", "unknown_trigger")
    subpath = request.match_info.get("subpath", "")
    if subpath and not trigger.config.allow_subpaths:
        return Outcome(error_response(*NOT_FOUND), "rejected", "unknown_path")
    return Flow(request, trigger, client, subpath)


def check_method(flow: Flow) -> Outcome | None:
    """405 with ``Allow`` for a method the trigger does not take (a WebSub challenge GET always passes).

    Sets ``websub``.
    """
    cfg = flow.trigger.config
    method = flow.request.method
    flow.websub = websub = cfg.websub is not None and method == "GET" and "hub.challenge" in flow.request.query
    if method in cfg.methods or websub:
        return None
    allowed = ", ".join(cfg.methods)
    return Outcome(
        error_response(405, "method_not_allowed", f"Use {allowed}.", {"Allow": allowed}),
        "rejected",
        "method_not_allowed",
    )


def admit(flow: Flow, admission: Admission) -> Outcome | None:
    """The pre-body checks: header limits (431), IP allowlist and client certificate (401), rate limits (429)."""
    request, trigger = flow.request, flow.trigger
    refusal = (
        admission.head(request)
        or admission.failures(trigger.name, flow.client)
        or admission.network(trigger.name, flow.client, request)
        or admission.rate(trigger.name, trigger.tenant)
    )
    return None if refusal is None else refused(refusal)


def charge(flow: Flow, admission: Admission) -> Outcome | None:
    """Take the verified request's rate-limit tokens (:func:`admit` only checked them): 429 when a bucket
    emptied meanwhile. Forged requests never get here, so they cannot drain a sender's buckets."""
    refusal = admission.charge(flow.trigger.name, flow.trigger.tenant)
    return None if refusal is None else refused(refusal)


def answer_websub(flow: Flow) -> Outcome | None:
    """WebSub intent verification (an unsigned GET): echo the challenge, or 404 to decline."""
    if not flow.websub:
        return None
    request = flow.request
    reply = websub_challenge(
        WebhookRequest(
            method=request.method,
            url=flow.client.url,
            headers=request.headers,
            body=b"",
            query=request.query,
            client_ip=flow.client.ip,
            now=time.time(),
        ),
        flow.trigger.websub_token,
    )
    if reply is None:
        return Outcome(error_response(*NOT_FOUND), "rejected", "websub_declined")
    return handshake(reply, "websub")


def check_size(flow: Flow) -> Outcome | None:
    """413 when the declared ``Content-Length`` is over the trigger's limit, before reading anything."""
    length = flow.request.content_length
    if length is not None and length > flow.trigger.max_body_bytes:
        return too_large(flow.trigger)
    return None


def check_encoding(flow: Flow) -> Outcome | None:
    """415 ``unsupported_content_encoding`` for an encoded body the trigger does not decode, before reading it.

    A trigger decodes only the codings its ``decompress`` names, one at a time; anything else (no
    ``decompress``, an unknown or stacked coding) is refused without decompressing a byte, with
    ``Accept-Encoding`` naming what would be taken (RFC 9110 15.5.16). Sets ``coding``.
    """
    flow.coding = None
    request = flow.request
    codings = content_codings(request.headers.getall("Content-Encoding", ()))
    if not codings or not request.body_exists:
        return None
    decoder = flow.trigger.decoder
    if decoder is None or not decoder.accepts(codings):
        accepted = ", ".join(sorted(decoder.encodings)) if decoder is not None else "identity"
        return Outcome(
            error_response(
                415,
                "unsupported_content_encoding",
                "This content encoding is not accepted.",
                {"Accept-Encoding": accepted},
            ),
            "rejected",
            "unsupported_content_encoding",
        )
    flow.coding = codings[0]
    return None


def authenticate_head(flow: Flow) -> Outcome | None:
    """401 before the body is read, for presets that authenticate from the headers alone (tokens).

    An unauthenticated request for such a trigger costs no body read; its verifier still runs on the
    whole request later (:func:`verify`).
    """
    check = getattr(flow.trigger.verifier, "verify_head", None)
    if check is None:  # a preset that needs the body (most): no request to build for it yet
        return None
    request, client = flow.request, flow.client
    verdict = check(
        WebhookRequest(
            method=request.method,
            url=client.url,
            headers=request.headers,
            body=b"",
            query=request.query,
            client_ip=client.ip,
            now=time.time(),
        )
    )
    if verdict is None or verdict.ok:
        return None
    return Outcome(error_response(*UNAUTHORIZED), "rejected", verdict.reason)


async def read_body(flow: Flow, timing: BodyTiming = DEFAULT_TIMING) -> Outcome | None:
    """The whole body, or 413 as soon as it exceeds the limit (chunked bodies declare no length), or 408
    when it misses its deadline or arrives below the minimum rate (``timing``).

    Sets ``body``.
    """
    limit = flow.trigger.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in timed_chunks(flow.request.content, timing, _READ_CHUNK):
            size += len(chunk)
            if size > limit:
                return too_large(flow.trigger)
            chunks.append(chunk)
    except BodyTooSlow as exc:
        return too_slow(exc.reason)
    except ConnectionError:  # the client went away mid-body: nobody reads the reply, but it is counted
        return Outcome(
            error_response(400, "incomplete_body", "The connection closed before the body was complete."),
            "rejected",
            "client_disconnected",
        )
    flow.body = b"".join(chunks)
    return None


def decode_body(flow: Flow) -> Outcome | None:
    """Decode the body of the coding :func:`check_encoding` accepted, within the trigger's bounds.

    413 as soon as the output passes ``decompress.max_bytes`` or ``max_ratio`` (a bomb is never inflated
    in full); 400 ``invalid_body`` for a corrupt, truncated or trailing-garbage stream. From here on
    ``body`` is the decoded body: it is parsed, and it is the Kafka record value. Sets ``signed``: the
    decoded body, or the bytes as received when the trigger verifies the encoded bytes.
    """
    flow.signed = received = flow.body
    decoder = flow.trigger.decoder
    if flow.coding is None or decoder is None or not received:
        return None
    try:
        flow.body = decoder.decode(flow.coding, received)
    except DecodedTooLarge as exc:
        return Outcome(error_response(413, "payload_too_large", str(exc)), "rejected", exc.reason)
    except InvalidBody as exc:
        return invalid_body(exc)
    if not decoder.verify_encoded:
        flow.signed = flow.body
    return None


async def hold_body_place(
    flow: Flow, ticket: Ticket, admission: Admission, patience: float = READING_PATIENCE_SECONDS
) -> Outcome | None:
    """A place among the requests waiting for their body, when the body has not fully arrived; 503 when
    none is free.

    A body received whole with its head (most webhooks) needs no place, so slow senders compete only
    with each other. When every place is taken, a body still in transit gets ``patience`` seconds to
    complete without one before the request is refused.
    """
    content = flow.request.content
    if content.is_eof() or ticket.start_reading():
        return None
    try:
        async with asyncio.timeout(patience):
            await content.wait_eof()
    except TimeoutError:
        return refused(admission.reading_overloaded())
    return None


def take_in_flight(ticket: Ticket, admission: Admission) -> Outcome | None:
    """503 ``overloaded`` when every in-flight place is taken; the body is read, the costly work not done."""
    return None if ticket.start_handling() else refused(admission.overloaded())


def check_media_type(flow: Flow) -> Outcome | None:
    """415 for a non-empty body of a media type the gateway does not take.

    Sets ``content_type``, ``media`` and ``lazy``.
    """
    flow.content_type = content_type = flow.request.headers.get("Content-Type", "")
    flow.media = media = media_type(content_type)
    flow.lazy = LazyBody(flow.body, media)
    if flow.body and content_type and not media.accepted:
        return Outcome(
            error_response(415, "unsupported_media_type", "This content type is not accepted."),
            "rejected",
            "unsupported_media_type",
        )
    return None


def verify(flow: Flow) -> Outcome | None:
    """The trigger's verifier: 401 when it refuses; a sender's handshake is answered and never published.

    Sets ``verdict``.
    """
    request, client = flow.request, flow.client
    flow.verdict = verdict = flow.trigger.verifier.verify(
        WebhookRequest(
            method=request.method,
            url=client.url,
            headers=request.headers,
            body=flow.signed,
            query=request.query,
            client_ip=client.ip,
            now=time.time(),
            shared_body=flow.lazy,
        )
    )
    if not verdict.ok:
        return Outcome(error_response(*UNAUTHORIZED), "rejected", verdict.reason)
    if verdict.handshake is not None:  # the sender validating the endpoint: answer, never produce
        return handshake(verdict.handshake, "handshake", verdict.delivery_id)
    return None


def parse(flow: Flow) -> Outcome | None:
    """Parse the body when the trigger reads or validates it: 400 when it is invalid, unless raw is accepted.

    Reuses the parse verification may already have made (``lazy``). Sets ``parsed``.
    """
    flow.parsed = None
    trigger = flow.trigger
    if trigger.should_parse(flow.media.kind):
        try:
            flow.parsed = flow.lazy.parsed()
        except InvalidBody as exc:
            if not trigger.config.accept_raw:
                return invalid_body(exc)
    return None


def extract_variables(flow: Flow) -> Outcome | None:
    """The trigger's variables from headers, query, sub-path and parsed body.

    400 ``invalid_body`` when the body is too deep for the trigger's JSONPaths, like one that does not
    parse. Sets ``variables``.
    """
    extractor = flow.trigger.extractor
    if not extractor:  # no variables declared
        flow.variables = {}
        return None
    request = flow.request
    try:
        flow.variables = extractor.extract(RequestParts(request.headers, request.query, flow.subpath, flow.parsed))
    except InvalidBody as exc:
        return invalid_body(exc)
    return None


def shape(flow: Flow) -> Outcome | None:
    """The event's id, ``type``, ``subject`` and record key.

    The id is the trigger's ``event_id`` source when it gives one (see
    :mod:`hookgate.gateway.shaping.eventid`), else the sender's delivery id when verification found one,
    else a fresh one. 400 ``invalid_body`` when a template's JSONPath finds the body too deep. Sets
    ``event_id``, ``values``, ``event_type``, ``subject`` and ``key``.
    """
    trigger, verdict, request = flow.trigger, flow.verdict, flow.request
    builtins = {"tenant": trigger.tenant, "trigger": trigger.name}
    flow.values = values = TemplateValues(builtins, flow.variables, request.headers, request.query, flow.parsed)
    try:
        source = trigger.event_id
        configured = source.event_id(values, flow.body) if source is not None else None
        flow.event_id = builtins["id"] = configured or verdict.delivery_id or new_event_id()
        flow.event_type, flow.subject = shape_event(
            trigger, verdict.event_type or trigger.config.type, verdict.subject, values
        )
        flow.key = trigger.key_template.render(values).encode()
    except InvalidBody as exc:
        return invalid_body(exc)
    return None


def apply_filter(flow: Flow) -> Outcome | None:
    """``200 {"ignored": true}`` when the trigger's ingress filter drops the event."""
    ingress_filter = flow.trigger.ingress_filter
    if ingress_filter is None:
        return None
    ignored = ingress_filter.ignore_reason(flow.values)
    if ignored is None:
        return None
    return Outcome(json_response(200, {"ignored": True}), "ignored", ignored, flow.event_id)


def build_envelope(flow: Flow) -> Outcome | None:
    """The CloudEvents envelope around the body, byte-exact (never replies). Sets ``envelope``."""
    trigger, body, content_type = flow.trigger, flow.body, flow.content_type
    extensions = {EXT_TENANT: trigger.tenant, EXT_TRIGGER: trigger.name}
    if flow.variables:
        extensions[EXT_VARS] = orjson.dumps(flow.variables).decode()
    flow.envelope = Envelope(
        id=flow.event_id,
        source=trigger.source,
        type=flow.event_type,
        data=body,
        time=rfc3339_ms(),
        subject=flow.subject,
        datacontenttype=content_type or ("application/octet-stream" if body else None),
        extensions=extensions,
    )
    return None


def publish(flow: Flow, sink: EventSink) -> Awaitable[PublishResult]:
    """Hand the envelope to the sink; the chain awaits the sink's answer itself (no coroutine of its own)."""
    return sink.publish(flow.trigger.topic, flow.key, flow.envelope)


NOT_STORED = "The event was not stored; retry later."
MAY_BE_STORED = (
    "Kafka did not confirm the event in time, but it may still be stored: retry later. A retry with the same"
    " delivery id is then a duplicate that the consumers' dedupe absorbs."
)


def reply(flow: Flow, result: PublishResult, retry_after: str, body_bytes: Histogram) -> Outcome:
    """The trigger's reply once the event is stored (``202 {"id": ...}`` by default), else 503 + ``Retry-After``.

    The 503 says whether the event may still be written (it reached the producer, which cannot take it
    back) or certainly was not: see :mod:`hookgate.gateway.publish.publisher`.
    """
    if not isinstance(result, Ack):
        message = MAY_BE_STORED if result.may_be_stored else NOT_STORED
        return Outcome(
            error_response(503, "unavailable", message, {"Retry-After": retry_after}),
            "failed",
            result.reason,
            flow.event_id,
        )
    body_bytes.observe(len(flow.body))
    accept = flow.trigger.reply
    response = web.Response(
        status=accept.status, body=accept.body_for(flow.event_id), headers={"Content-Type": accept.content_type}
    )
    return Outcome(response, "accepted", "ok", flow.event_id)


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


def handshake(answer: HandshakeReply, reason: str, event_id: str | None = None) -> Outcome:
    """A sender's endpoint-validation answer, counted as a handshake."""
    response = web.Response(status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type})
    return Outcome(response, "handshake", reason, event_id)


def refused(refusal: Refusal) -> Outcome:
    """The reply to an admission refusal (also the in-flight limit's)."""
    return Outcome(
        error_response(refusal.status, refusal.code, refusal.message, refusal.headers),
        refusal.outcome,
        refusal.reason,
    )


def invalid_body(exc: InvalidBody) -> Outcome:
    """400 ``invalid_body``, saying what is wrong with the body."""
    return Outcome(error_response(400, "invalid_body", str(exc)), "rejected", "invalid_body")


def too_slow(reason: str) -> Outcome:
    """408, and the connection closed: the body missed its deadline or its minimum rate."""
    return Outcome(
        error_response(408, "request_timeout", "The request body did not arrive in time.", {"Connection": "close"}),
        "rejected",
        reason,
        close=True,
    )


def too_large(trigger: Trigger) -> Outcome:
    """413, naming the trigger's limit."""
    return Outcome(
        error_response(413, "payload_too_large", f"The body exceeds {trigger.max_body_bytes} bytes."),
        "rejected",
        "payload_too_large",
    )
