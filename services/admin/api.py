"""The admin API: triggers (create, list, get, update, disable, enable, delete, rotate), inspection and
replay, under ``/admin`` on a listener of its own.

Every route is a row of :data:`ROUTES`; the router, the OpenAPI document (:mod:`hookgate.admin.openapi`)
and the tests (which try every row with another tenant's token) are all built from it, so a route
cannot exist without its documentation and its isolation test.

Rules kept by every handler:

- a ``tenant:<name>`` token sees only that tenant: another tenant's trigger, event or tenant is answered
  with the very 404 body an unknown id gets (:data:`NOT_FOUND`); list filters are narrowed to it;
  creating a trigger for another tenant is 403 ``forbidden_tenant`` (it names no existing thing);
- catalog refusals map to one status each: 404 unknown, 409 read-only (YAML) or existing, 422 invalid
  (each error naming the field), 503 unavailable (with ``Retry-After``); nothing changed on any of them;
- bad input is a 4xx with the conventions' error JSON: 400 bad JSON or query, 413 a body over
  ``max_body_bytes``, 415 a body that is not JSON, 422 a body that fails validation; never a 5xx;
- every call is audited (:mod:`hookgate.admin.audit`), 401s included.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from hookgate.admin.audit import AdminAuditor, outcome_of
from hookgate.admin.auth import Principal, TokenTable
from hookgate.admin.config import AdminSettings
from hookgate.admin.inspect.model import (
    EventInspector,
    EventNotFound,
    EventQuery,
    InspectorUnavailable,
    Outcome,
    ReplayTooLarge,
)
from hookgate.admin.policy import tenant_refusals
from hookgate.admin.schemas import (
    Created,
    Error,
    Event,
    EventDetails,
    EventPage,
    EventReplayRequest,
    RangeReplayRequest,
    Replayed,
    Resealed,
    Rotated,
    RotateRequest,
    Stats,
    Trigger,
    TriggerPage,
    ValidationFailed,
    Whoami,
)
from hookgate.admin.web import UI_PREFIX, add_inspector_pages
from hookgate.core.config import format_path
from hookgate.core.logging import get_logger
from hookgate.gateway.catalog.model import (
    CatalogUnavailable,
    FieldError,
    InvalidTrigger,
    ReadOnlyTrigger,
    TriggerCatalog,
    TriggerExists,
    TriggerView,
    UnknownTrigger,
)

log = get_logger("hookgate.admin.api")
M = TypeVar("M", bound=BaseModel)

NOT_FOUND = {"error": "not_found", "message": "No such resource."}
"""The one 404 body: for an unknown id and for what belongs to another tenant alike."""

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_EVENTS = 1000
MAX_WINDOW_SECONDS = 7 * 86_400
CATALOG_RETRY_AFTER = 2
PRINCIPAL = web.RequestKey("admin_principal", Principal)
AUDIT = web.RequestKey("admin_audit", dict[str, Any])


@dataclass
class Admin:
    """What the handlers work with."""

    catalog: TriggerCatalog
    inspector: EventInspector | None
    tokens: TokenTable
    auditor: AdminAuditor
    max_body_bytes: int
    openapi_public: bool = True
    openapi: Callable[[], Mapping[str, Any]] | None = None
    # gateway.max_body_bytes: the most a tenant token may give a trigger (None: not known, unchecked)
    tenant_max_body_bytes: int | None = None


ADMIN = web.AppKey("admin", Admin)


class ApiError(Exception):
    """A refusal the middleware answers as ``{"error": code, "message": ...}`` (or ``body``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = dict(body) if body is not None else {"error": code, "message": message}
        self.headers = dict(headers or {})


def not_found() -> ApiError:
    return ApiError(404, "not_found", NOT_FOUND["message"], body=NOT_FOUND)


# ---------------------------------------------------------------------------------------------- routes


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter, for the OpenAPI document."""

    name: str
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: how it is served and how it is documented."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    operation_id: str
    summary: str
    responses: Mapping[int, type[BaseModel] | None]  # the success status first
    body: type[BaseModel] | Literal["trigger"] | None = None
    query: tuple[Param, ...] = ()
    public: bool = False
    # Whether it names a tenant's trigger, event or tenant (so another tenant's token must get 404).
    tenant_bound: bool = True
    # Only an ``admin`` token may call it (it acts on every tenant at once): a tenant token gets 403.
    admin_only: bool = False
    tags: tuple[str, ...] = field(default=("triggers",))


def _json(status: int, body: BaseModel | Mapping[str, Any], headers: Mapping[str, str] | None = None) -> web.Response:
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json", headers=headers)


def _principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def _admin(request: web.Request) -> Admin:
    return request.app[ADMIN]


def _note(request: web.Request, **details: Any) -> None:
    """Facts for this call's audit record (trigger id, tenant, replay options...)."""
    request[AUDIT].update(details)


def _visible(request: web.Request, trigger_id: str) -> TriggerView:
    """The trigger, if it exists and the caller sees its tenant; the same 404 otherwise."""
    _note(request, trigger_id=trigger_id)
    view = _admin(request).catalog.get(trigger_id)
    if view is None or not _principal(request).sees(view.tenant):
        raise not_found()
    _note(request, tenant=view.tenant)
    return view


async def _read_json(request: web.Request) -> Any:
    """The body as JSON: 413 over the limit, 415 not JSON, 400 unparsable; an empty body is ``{}``."""
    limit = _admin(request).max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"The body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        # read(n) returns what has arrived (at most n bytes): loop to the end, stopping past the limit.
        while chunk := await request.content.read(limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "body_too_large", f"The body is larger than {limit} bytes.")
    except (ValueError, OSError):
        raise ApiError(400, "bad_request", "The body could not be read.") from None
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    if request.content_type not in ("application/json", "application/octet-stream", "text/plain", ""):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "The body is not valid JSON.") from None


async def _read_model(request: web.Request, model: type[M]) -> M:
    data = await _read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid("invalid_request", _field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        out.append(FieldError(path=format_path(tuple(err["loc"])), message=msg))
    return out


def _invalid(code: Literal["invalid_trigger", "invalid_request"], errors: list[FieldError]) -> ApiError:
    body = ValidationFailed.of(code, errors)
    return ApiError(422, code, body.message, body=body.model_dump(mode="json"))


async def _read_spec(request: web.Request) -> dict[str, Any]:
    data = await _read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object: the trigger mapping as in YAML.")
    return data


def _own_tenant(request: web.Request, spec: dict[str, Any], current: Mapping[str, Any] | None = None) -> None:
    """A tenant token creates and changes only its own tenant's triggers (``tenant`` defaults to it), and
    not the keys that reach beyond its tenant (:mod:`hookgate.admin.policy`; ``current``: the spec now)."""
    principal = _principal(request)
    if principal.tenant is None:
        return
    tenant = spec.setdefault("tenant", principal.tenant)
    if tenant != principal.tenant:
        raise ApiError(403, "forbidden_tenant", "This token may only manage triggers of its own tenant.")
    refusals = tenant_refusals(spec, current, max_body_bytes=_admin(request).tenant_max_body_bytes)
    if refusals:
        _note(request, refused_keys=[key for key, _ in refusals])
        reasons = "; ".join(f"{key}: {reason}" for key, reason in refusals)
        raise ApiError(403, "forbidden_key", f"A tenant token may not set: {reasons}.")


# --------------------------------------------------------------------------------------------- queries


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_query", f"{name}: expected an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "bad_query", f"{name}: expected {lo} to {hi}")
    return value


def _query_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "bad_query", f"{name}: expected an RFC 3339 date-time") from None
    return _utc(value)


def _utc(value: datetime) -> datetime:
    """A date-time without an offset is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _event_query(request: web.Request, *, trigger_id: str | None, tenant: str | None) -> EventQuery:
    since = _query_time(request, "since")
    until = _query_time(request, "until")
    if since is not None and until is not None and since > until:
        raise ApiError(400, "bad_query", "since: must not be after until")
    outcome = request.query.get("outcome") or None
    if outcome not in (None, "accepted", "refused"):
        raise ApiError(400, "bad_query", "outcome: expected accepted or refused")
    accepted: Outcome | None = "accepted" if outcome == "accepted" else "refused" if outcome == "refused" else None
    return EventQuery(
        trigger_id=trigger_id,
        tenant=tenant,
        since=since,
        until=until,
        type=request.query.get("type") or None,
        outcome=accepted,
        limit=_query_int(request, "limit", 100, 1, MAX_EVENTS),
    )


def _inspector(request: web.Request) -> EventInspector:
    inspector = _admin(request).inspector
    if inspector is None:
        raise ApiError(
            503,
            "inspector_unavailable",
            "Inspection is not available on this gateway.",
            headers={"Retry-After": str(CATALOG_RETRY_AFTER)},
        )
    return inspector


def _cursor(after: str) -> str:
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> str:
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        after = None
    if not after or _cursor(after) != cursor:
        raise ApiError(400, "bad_query", "cursor: not a cursor this API gave")
    return after


# -------------------------------------------------------------------------------------------- handlers


async def whoami(request: web.Request) -> web.Response:
    p = _principal(request)
    return _json(200, Whoami(name=p.name, scope=p.scope, tenant=p.tenant))


async def list_triggers(request: web.Request) -> web.Response:
    principal = _principal(request)
    tenant = request.query.get("tenant") or None
    preset = request.query.get("preset") or None
    limit = _query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    cursor = request.query.get("cursor") or None
    after = _uncursor(cursor) if cursor is not None else None
    if principal.tenant is not None:
        if tenant is not None and tenant != principal.tenant:
            return _json(200, TriggerPage(items=[], next_cursor=None))
        tenant = principal.tenant
    views = _admin(request).catalog.list(tenant=tenant, preset=preset)
    if after is not None:
        views = [v for v in views if v.id > after]
    page = views[:limit]
    more = len(views) > limit
    return _json(
        200,
        TriggerPage(items=[Trigger.of(v) for v in page], next_cursor=_cursor(page[-1].id) if more else None),
    )


async def create_trigger(request: web.Request) -> web.Response:
    spec = await _read_spec(request)
    asked = spec.get("tenant")
    _note(request, tenant=asked if isinstance(asked, str) else None)  # audited even when refused
    _own_tenant(request, spec)
    issued = await _admin(request).catalog.create(spec)
    _note(request, trigger_id=issued.trigger.id, tenant=issued.trigger.tenant)
    view = issued.trigger
    return _json(201, Created(trigger=Trigger.of(view), url=view.url, secret=issued.secret))


async def get_trigger(request: web.Request) -> web.Response:
    return _json(200, Trigger.of(_visible(request, request.match_info["id"])))


async def update_trigger(request: web.Request) -> web.Response:
    trigger_id = request.match_info["id"]
    view = _visible(request, trigger_id)
    spec = await _read_spec(request)
    spec.setdefault("tenant", view.tenant)
    _own_tenant(request, spec, view.config)
    if spec.setdefault("id", trigger_id) != trigger_id:
        raise _invalid("invalid_trigger", [FieldError(path="id", message="must be the trigger id of the URL")])
    updated = await _admin(request).catalog.update(trigger_id, spec)
    return _json(200, Trigger.of(updated))


async def delete_trigger(request: web.Request) -> web.Response:
    trigger_id = request.match_info["id"]
    _visible(request, trigger_id)
    await _admin(request).catalog.delete(trigger_id)
    return web.Response(status=204)


async def disable_trigger(request: web.Request) -> web.Response:
    trigger_id = request.match_info["id"]
    _visible(request, trigger_id)
    return _json(200, Trigger.of(await _admin(request).catalog.set_enabled(trigger_id, False)))


async def enable_trigger(request: web.Request) -> web.Response:
    trigger_id = request.match_info["id"]
    _visible(request, trigger_id)
    return _json(200, Trigger.of(await _admin(request).catalog.set_enabled(trigger_id, True)))


async def rotate_trigger(request: web.Request) -> web.Response:
    trigger_id = request.match_info["id"]
    _visible(request, trigger_id)
    body = await _read_model(request, RotateRequest)
    _note(request, grace_seconds=body.grace_seconds)
    issued = await _admin(request).catalog.rotate(trigger_id, grace_seconds=body.grace_seconds)
    return _json(200, Rotated(trigger=Trigger.of(issued.trigger), secret=issued.secret))


async def reseal_triggers(request: web.Request) -> web.Response:
    count = await _admin(request).catalog.reseal()
    _note(request, records=count)
    return _json(200, Resealed(records=count))


async def trigger_events(request: web.Request) -> web.Response:
    view = _visible(request, request.match_info["id"])
    query = _event_query(request, trigger_id=view.id, tenant=view.tenant)
    items = await _inspector(request).events(query)
    return _json(200, EventPage(items=[Event.of(i) for i in items if i.trigger_id == view.id]))


async def tenant_events(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    _note(request, tenant=tenant)
    if not _principal(request).sees(tenant):
        raise not_found()
    query = _event_query(request, trigger_id=None, tenant=tenant)
    items = await _inspector(request).events(query)
    return _json(200, EventPage(items=[Event.of(i) for i in items if i.tenant == tenant]))


async def get_event(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    principal = _principal(request)
    tenant = request.query.get("tenant") or principal.tenant
    trigger_id = request.query.get("trigger") or None
    _note(request, event_id=event_id, tenant=tenant, trigger_id=trigger_id)
    if tenant is None:
        raise ApiError(400, "bad_query", "tenant: required with an admin token")
    if not principal.sees(tenant):
        raise not_found()
    if trigger_id is not None and _visible(request, trigger_id).tenant != tenant:
        raise not_found()
    detail = await _inspector(request).event(event_id, tenant=tenant, trigger_id=trigger_id)
    if detail is None or not principal.sees(detail.summary.tenant) or detail.summary.tenant != tenant:
        raise not_found()
    return _json(200, EventDetails.of(detail))


async def stats(request: web.Request) -> web.Response:
    principal = _principal(request)
    window = _query_int(request, "window_seconds", 3600, 1, MAX_WINDOW_SECONDS)
    tenant = request.query.get("tenant") or None
    if principal.tenant is not None:
        if tenant is not None and tenant != principal.tenant:
            return _json(200, Stats(window_seconds=window, triggers=[]))
        tenant = principal.tenant
    ids = [v.id for v in _admin(request).catalog.list(tenant=tenant)]
    counts = dict(await _inspector(request).counts(ids, window_seconds=window)) if ids else {}
    return _json(200, Stats.of(window, counts, ids))


async def replay_event(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    principal = _principal(request)
    body = await _read_model(request, EventReplayRequest)
    tenant = body.tenant or principal.tenant
    _note(request, event_id=event_id, tenant=tenant, trigger_id=body.trigger_id, dry_run=body.dry_run, force=body.force)
    if tenant is None:
        raise _invalid("invalid_request", [FieldError(path="tenant", message="required with an admin token")])
    if not principal.sees(tenant):
        raise not_found()
    if body.trigger_id is not None and _visible(request, body.trigger_id).tenant != tenant:
        raise not_found()
    inspector = _inspector(request)
    detail = await inspector.event(event_id, tenant=tenant, trigger_id=body.trigger_id)
    if detail is None or detail.summary.tenant != tenant or detail.summary.outcome != "accepted":
        raise not_found()
    result = await inspector.replay(
        tenant=tenant,
        trigger_id=body.trigger_id or detail.summary.trigger_id,
        event_id=event_id,
        dry_run=body.dry_run,
        force=body.force,
    )
    _note(request, replayed=len(result.event_ids), replay_id=result.replay_id)
    return _json(200, Replayed.of(result))


async def replay_range(request: web.Request) -> web.Response:
    view = _visible(request, request.match_info["id"])
    body = await _read_model(request, RangeReplayRequest)
    since = _utc(body.since)
    until = _utc(body.until) if body.until is not None else datetime.now(UTC)
    _note(request, since=since.isoformat(), until=until.isoformat(), dry_run=body.dry_run, force=body.force)
    if since > until:
        raise _invalid("invalid_request", [FieldError(path="since", message="must not be after until")])
    if until - since > timedelta(seconds=MAX_WINDOW_SECONDS):
        raise _invalid("invalid_request", [FieldError(path="since", message="a range is at most 7 days")])
    result = await _inspector(request).replay(
        tenant=view.tenant, trigger_id=view.id, since=since, until=until, dry_run=body.dry_run, force=body.force
    )
    _note(request, replayed=len(result.event_ids), replay_id=result.replay_id)
    return _json(200, Replayed.of(result))


async def openapi_document(request: web.Request) -> web.Response:
    build = _admin(request).openapi
    if build is None:
        from hookgate.admin.openapi import document

        return _json(200, document())
    return _json(200, build())


# ------------------------------------------------------------------------------------------ the table

_ID = "{id}"
_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
EVENT_FILTERS = (
    Param("since", _TIME, "From this time (RFC 3339); default an hour ago"),
    Param("until", _TIME, "Up to this time (RFC 3339); default now"),
    Param("type", _STR, "CloudEvents type, exact"),
    Param("outcome", {"type": "string", "enum": ["accepted", "refused"]}, "Only accepted events or refusals"),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS, "default": 100}, "At most this many"),
)
_READ_ERRORS: dict[int, type[BaseModel] | None] = {400: Error, 401: Error, 404: Error}
_WRITE_ERRORS: dict[int, type[BaseModel] | None] = {
    400: Error,
    401: Error,
    404: Error,
    409: Error,
    413: Error,
    415: Error,
    422: ValidationFailed,
    503: Error,
}
_INSPECT_ERRORS: dict[int, type[BaseModel] | None] = {**_READ_ERRORS, 503: Error}
_REPLAY_ERRORS: dict[int, type[BaseModel] | None] = {
    400: Error,
    401: Error,
    404: Error,
    413: Error,
    415: Error,
    422: ValidationFailed,
    503: Error,
}

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/admin/openapi.json",
        openapi_document,
        "openapi",
        "This OpenAPI 3.1 document",
        {200: None},
        public=True,
        tenant_bound=False,
        tags=("meta",),
    ),
    Route(
        "GET",
        "/admin/whoami",
        whoami,
        "whoami",
        "The caller's token name and scope",
        {200: Whoami, 401: Error},
        tenant_bound=False,
        tags=("meta",),
    ),
    Route(
        "GET",
        "/admin/triggers",
        list_triggers,
        "listTriggers",
        "List triggers (YAML and runtime), sorted by id; a tenant token lists only its tenant's",
        {200: TriggerPage, **_READ_ERRORS},
        query=(
            Param("tenant", _STR, "Only this tenant's triggers"),
            Param("preset", _STR, "Only triggers of this verify preset"),
            Param(
                "limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}, "Page size"
            ),
            Param("cursor", _STR, "next_cursor of the previous page"),
        ),
        tenant_bound=False,
    ),
    Route(
        "POST",
        "/admin/triggers",
        create_trigger,
        "createTrigger",
        "Create a runtime trigger from its YAML mapping; its generated secret is shown once",
        {201: Created, 403: Error, **_WRITE_ERRORS},
        body="trigger",
        tenant_bound=False,
    ),
    Route("GET", f"/admin/triggers/{_ID}", get_trigger, "getTrigger", "One trigger", {200: Trigger, **_READ_ERRORS}),
    Route(
        "PUT",
        f"/admin/triggers/{_ID}",
        update_trigger,
        "updateTrigger",
        "Replace a runtime trigger's mapping; secrets left out are kept",
        {200: Trigger, 403: Error, **_WRITE_ERRORS},
        body="trigger",
    ),
    Route(
        "DELETE",
        f"/admin/triggers/{_ID}",
        delete_trigger,
        "deleteTrigger",
        "Delete a runtime trigger",
        {204: None, 400: Error, 401: Error, 404: Error, 409: Error, 503: Error},
    ),
    Route(
        "POST",
        f"/admin/triggers/{_ID}/disable",
        disable_trigger,
        "disableTrigger",
        "Disable a runtime trigger (its URL answers 404)",
        {200: Trigger, 400: Error, 401: Error, 404: Error, 409: Error, 503: Error},
    ),
    Route(
        "POST",
        f"/admin/triggers/{_ID}/enable",
        enable_trigger,
        "enableTrigger",
        "Enable a runtime trigger",
        {200: Trigger, 400: Error, 401: Error, 404: Error, 409: Error, 503: Error},
    ),
    Route(
        "POST",
        f"/admin/triggers/{_ID}/rotate",
        rotate_trigger,
        "rotateTrigger",
        "A new secret, shown once; the old one is accepted for grace_seconds more",
        {200: Rotated, **_WRITE_ERRORS},
        body=RotateRequest,
    ),
    Route(
        "POST",
        "/admin/reseal",
        reseal_triggers,
        "resealTriggers",
        "Re-encrypt every runtime trigger's secrets under the active encryption key (after a key rotation)",
        {200: Resealed, 401: Error, 403: Error, 503: Error},
        tenant_bound=False,
        admin_only=True,
    ),
    Route(
        "GET",
        f"/admin/triggers/{_ID}/events",
        trigger_events,
        "triggerEvents",
        "A trigger's recent requests (accepted events and refusals), newest first",
        {200: EventPage, **_INSPECT_ERRORS},
        query=EVENT_FILTERS,
        tags=("inspection",),
    ),
    Route(
        "POST",
        f"/admin/triggers/{_ID}/replay",
        replay_range,
        "replayTrigger",
        "Re-publish a trigger's events of a time range, keeping their ids",
        {200: Replayed, **_REPLAY_ERRORS},
        body=RangeReplayRequest,
        tags=("inspection",),
    ),
    Route(
        "GET",
        "/admin/tenants/{tenant}/events",
        tenant_events,
        "tenantEvents",
        "A tenant's recent requests, newest first",
        {200: EventPage, **_INSPECT_ERRORS},
        query=EVENT_FILTERS,
        tags=("inspection",),
    ),
    Route(
        "GET",
        "/admin/events/{event_id}",
        get_event,
        "getEvent",
        "One event: redacted headers, body, CloudEvents attributes, variables, per-workflow outcomes",
        {200: EventDetails, **_INSPECT_ERRORS},
        query=(
            Param("tenant", _STR, "The event's tenant (required with an admin token)"),
            Param("trigger", _STR, "The event's trigger id, if known"),
        ),
        tags=("inspection",),
    ),
    Route(
        "POST",
        "/admin/events/{event_id}/replay",
        replay_event,
        "replayEvent",
        "Re-publish one event to its topic, keeping its id",
        {200: Replayed, **_REPLAY_ERRORS},
        body=EventReplayRequest,
        tags=("inspection",),
    ),
    Route(
        "GET",
        "/admin/stats",
        stats,
        "stats",
        "Accepted and refused requests per trigger in the last window_seconds",
        {200: Stats, **_INSPECT_ERRORS},
        query=(
            Param(
                "window_seconds",
                {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_SECONDS, "default": 3600},
                "The window",
            ),
            Param("tenant", _STR, "Only this tenant's triggers"),
        ),
        tenant_bound=False,
        tags=("inspection",),
    ),
)


# ------------------------------------------------------------------------------------------ middleware

_CATALOG_ERRORS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (UnknownTrigger, 404, "not_found", NOT_FOUND["message"]),
    (ReadOnlyTrigger, 409, "read_only_trigger", "This trigger is defined in the YAML config and is read-only."),
    (TriggerExists, 409, "trigger_exists", "A trigger with this id or name already exists."),
)


def _route_template(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "<unmatched>"


def _error_response(exc: ApiError) -> web.Response:
    return _json(exc.status, exc.body, exc.headers)


@web.middleware
async def admin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Authenticate, translate refusals into the error JSON, and audit the call."""
    if not request.path.startswith("/admin") or request.path.startswith(UI_PREFIX):
        # The web inspector's pages hold no data (their script calls this API with the token); they are public.
        return await handler(request)
    admin = request.app[ADMIN]
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
    request[AUDIT] = {}
    principal: Principal | None = None
    status = 500
    reason: str | None = None
    try:
        response = await _dispatch(request, handler, admin)
        status = response.status
        principal = request.get(PRINCIPAL)
        return response
    except ApiError as exc:
        principal = request.get(PRINCIPAL)
        status, reason = exc.status, exc.code
        return _error_response(exc)
    finally:
        route = _route_template(request)
        if not (route == "/admin/openapi.json" and status < 400):
            details = request[AUDIT]
            admin.auditor.record(
                request_id=request_id,
                actor=principal.name if principal is not None else None,
                scope=principal.scope if principal is not None else None,
                method=request.method,
                route=route,
                status=status,
                outcome=outcome_of(status),
                reason=reason,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                trigger_id=details.pop("trigger_id", None),
                tenant=details.pop("tenant", None),
                details=details,
            )


def _admins_only(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` for ``admin`` tokens; 403 ``admin_only`` for a tenant token (the route acts on every tenant)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not _principal(request).is_admin:
            raise ApiError(403, "admin_only", "Only an admin token may call this: it acts on every tenant.")
        return await handler(request)

    return guarded


async def _dispatch(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], admin: Admin
) -> web.StreamResponse:
    public = request.path == "/admin/openapi.json" and admin.openapi_public
    principal = admin.tokens.authenticate(request.headers.get("Authorization"))
    if principal is None and not public:
        raise ApiError(
            401,
            "unauthorized",
            "A valid admin token is required (Authorization: Bearer <token>).",
            headers={"WWW-Authenticate": 'Bearer realm="hookgate-admin"'},
        )
    if principal is not None:
        request[PRINCIPAL] = principal
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            raise not_found() from None
        if exc.status == 405:
            raise ApiError(405, "method_not_allowed", "This method is not allowed here.") from None
        if exc.status == 413:
            raise ApiError(413, "body_too_large", f"The body is larger than {admin.max_body_bytes} bytes.") from None
        raise ApiError(exc.status, "http_error", exc.reason) from None
    except InvalidTrigger as exc:
        raise _invalid("invalid_trigger", list(exc.errors)) from None
    except CatalogUnavailable:
        raise ApiError(
            503,
            "catalog_unavailable",
            "Kafka did not acknowledge the change in time; nothing changed. Retry later.",
            headers={"Retry-After": str(CATALOG_RETRY_AFTER)},
        ) from None
    except (UnknownTrigger, ReadOnlyTrigger, TriggerExists) as exc:
        for kind, status, code, message in _CATALOG_ERRORS:
            if isinstance(exc, kind):
                body = NOT_FOUND if status == 404 else None
                raise ApiError(status, code, message, body=body) from None
        raise  # pragma: no cover - every kind is in the table
    except EventNotFound:
        raise not_found() from None
    except ReplayTooLarge as exc:
        raise _invalid("invalid_request", [FieldError(path="since", message=str(exc))]) from None
    except InspectorUnavailable:
        raise ApiError(
            503,
            "inspector_unavailable",
            "Kafka did not answer the inspector in time. Retry later.",
            headers={"Retry-After": str(CATALOG_RETRY_AFTER)},
        ) from None
    except ApiError:
        raise
    except asyncio.CancelledError:
        # A CancelledError that leaked out of a library while this request was not cancelled is a failure
        # to answer (500), not a reason to drop the connection without one.
        task = asyncio.current_task()
        if task is None or task.cancelling():
            raise
        log.exception("admin_handler_failed", route=_route_template(request), method=request.method)
        raise ApiError(500, "internal_error", "The admin API failed to handle this request.") from None
    except Exception:
        log.exception("admin_handler_failed", route=_route_template(request), method=request.method)
        raise ApiError(500, "internal_error", "The admin API failed to handle this request.") from None


# ----------------------------------------------------------------------------------------- the app


def create_admin_app(
    settings: AdminSettings,
    catalog: TriggerCatalog,
    inspector: EventInspector | None = None,
    auditor: AdminAuditor | None = None,
    *,
    tenant_max_body_bytes: int | None = None,
) -> web.Application:
    """The admin application: :data:`ROUTES` under ``/admin``, authenticated and audited.

    ``inspector`` None: the inspection and replay routes answer 503 ``inspector_unavailable``.
    ``tenant_max_body_bytes``: the gateway's ``max_body_bytes``, the most a tenant token may give a trigger
    (:mod:`hookgate.admin.policy`).
    """
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[admin_middleware])
    app[ADMIN] = Admin(
        catalog=catalog,
        inspector=inspector,
        tokens=TokenTable(settings.all_tokens()),
        auditor=auditor if auditor is not None else AdminAuditor(),
        max_body_bytes=settings.max_body_bytes,
        openapi_public=settings.openapi_public,
        tenant_max_body_bytes=tenant_max_body_bytes,
    )
    for route in ROUTES:
        handler = _admins_only(route.handler) if route.admin_only else route.handler
        app.router.add_route(route.method, route.path, handler, name=route.operation_id)
    add_inspector_pages(app)
    return app
