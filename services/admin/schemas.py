"""The admin API's JSON bodies, as pydantic models: what it answers and the small bodies it reads.

They are the single source of the JSON the handlers write and of the OpenAPI document's schemas
(:mod:`hookgate.admin.openapi`). A trigger's own body is the trigger mapping exactly as YAML holds it,
validated by the catalog with the config models; it is not repeated here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hookgate.admin.inspect.model import Counts, EventDetail, EventSummary, ReplayResult, WorkflowOutcome
from hookgate.gateway.catalog.model import FieldError, TriggerView

MAX_GRACE_SECONDS = 30 * 86_400


class Body(BaseModel):
    """A response body: no other keys than those listed."""

    model_config = ConfigDict(extra="forbid")


class Request(BaseModel):
    """A request body: unknown keys are errors, as in config files."""

    model_config = ConfigDict(extra="forbid")


class Error(Body):
    """Every error: a stable snake_case code and a human sentence."""

    error: str = Field(description="Stable snake_case code: unauthorized, not_found, trigger_exists, ...")
    message: str


class ErrorDetail(Body):
    path: str = Field(description="The field path as the user wrote it, e.g. verify.secrets[0]")
    message: str


class ValidationFailed(Body):
    """422: the body fails validation; each error names the field."""

    error: Literal["invalid_trigger", "invalid_request"]
    message: str
    errors: list[ErrorDetail]

    @classmethod
    def of(cls, code: Literal["invalid_trigger", "invalid_request"], errors: list[FieldError]) -> ValidationFailed:
        details = [ErrorDetail(path=e.path, message=e.message) for e in errors]
        summary = "; ".join(f"{e.path}: {e.message}" for e in details) or "invalid"
        return cls(error=code, message=summary[:2000], errors=details)


class Whoami(Body):
    name: str = Field(description="The token's name")
    scope: str = Field(description='"admin" or "tenant:<name>"')
    tenant: str | None = Field(description="The only tenant the token sees; null for admin")


class Trigger(Body):
    """A trigger as the API shows it: its spec without secrets, and where senders reach it."""

    id: str
    name: str
    tenant: str
    preset: str = Field(description="The verify preset (verify.type)")
    state: Literal["enabled", "disabled"]
    origin: Literal["yaml", "runtime"] = Field(description="yaml triggers are read-only through the API")
    url: str | None = Field(description="public_base_url + /hooks/<id>; null when no public base URL is set")
    config: dict[str, Any] = Field(description="The trigger mapping, as in YAML, with every secret removed")
    created_at: datetime | None
    updated_at: datetime | None
    rotation_ends_at: datetime | None = Field(description="When the secret a rotation replaced stops working")

    @classmethod
    def of(cls, view: TriggerView) -> Trigger:
        return cls(
            id=view.id,
            name=view.name,
            tenant=view.tenant,
            preset=view.preset,
            state=view.state,
            origin=view.origin,
            url=view.url,
            config=dict(view.config),
            created_at=view.created_at,
            updated_at=view.updated_at,
            rotation_ends_at=view.rotation_ends_at,
        )


class TriggerPage(Body):
    items: list[Trigger]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")


class Created(Body):
    """201: the new trigger, its URL and its generated secret, shown this once."""

    trigger: Trigger
    url: str | None
    secret: str | None = Field(description="The generated secret or token (null if the spec gave one); shown once")


class Rotated(Body):
    trigger: Trigger
    secret: str | None = Field(description="The new secret, shown once; the old one works until rotation_ends_at")


class Resealed(Body):
    records: int = Field(description="Runtime trigger records rewritten under the active encryption key")


class RotateRequest(Request):
    grace_seconds: int = Field(
        default=3600, ge=0, le=MAX_GRACE_SECONDS, description="How long the old secret is still accepted"
    )


class Event(Body):
    """One request: an accepted event, or a refused request with its reason."""

    id: str
    trigger_id: str
    tenant: str
    time: datetime
    outcome: Literal["accepted", "refused"]
    status: int
    reason: str | None
    type: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    trigger_name: str | None = Field(default=None, description="The trigger's name as the record holds it")

    @classmethod
    def of(cls, s: EventSummary) -> Event:
        return cls(
            id=s.id,
            trigger_id=s.trigger_id,
            tenant=s.tenant,
            time=s.time,
            outcome=s.outcome,
            status=s.status,
            reason=s.reason,
            type=s.type,
            topic=s.topic,
            partition=s.partition,
            offset=s.offset,
            trigger_name=s.trigger_name,
        )


class EventPage(Body):
    items: list[Event]


class Workflow(Body):
    group: str
    workflow: str
    outcome: str
    at: datetime | None
    attempts: int | None

    @classmethod
    def of(cls, w: WorkflowOutcome) -> Workflow:
        return cls(group=w.group, workflow=w.workflow, outcome=w.outcome, at=w.at, attempts=w.attempts)


class EventDetails(Body):
    """One event in full (headers and body redacted by the audit log's rules)."""

    event: Event
    attributes: dict[str, str]
    headers: dict[str, str]
    body: str | None
    body_base64: str | None
    content_type: str | None
    variables: dict[str, Any]
    workflows: list[Workflow]
    body_redacted: bool = Field(default=False, description="A credential field of the body shows [redacted]")
    record_headers: dict[str, str] = Field(
        default_factory=dict, description="The Kafka record's headers that are not attributes (hookgate_*)"
    )
    deliveries: list[Event] = Field(
        default_factory=list, description="Every record with this id (redeliveries, replays), oldest first"
    )
    request: dict[str, Any] = Field(
        default_factory=dict, description="The audit record's facts: method, client_ip, sizes, duration_ms"
    )

    @classmethod
    def of(cls, d: EventDetail) -> EventDetails:
        return cls(
            event=Event.of(d.summary),
            attributes=dict(d.attributes),
            headers=dict(d.headers),
            body=d.body,
            body_base64=d.body_base64,
            content_type=d.content_type,
            variables=dict(d.variables),
            workflows=[Workflow.of(w) for w in d.workflows],
            body_redacted=d.body_redacted,
            record_headers=dict(d.record_headers),
            deliveries=[Event.of(x) for x in d.deliveries],
            request=dict(d.request),
        )


class TriggerCounts(Body):
    trigger_id: str
    accepted: int
    refused: int


class Stats(Body):
    window_seconds: int
    triggers: list[TriggerCounts]

    @classmethod
    def of(cls, window: int, counts: dict[str, Counts], ids: list[str]) -> Stats:
        zero = Counts(accepted=0, refused=0)
        rows = [(i, counts.get(i, zero)) for i in ids]
        return cls(
            window_seconds=window,
            triggers=[TriggerCounts(trigger_id=i, accepted=c.accepted, refused=c.refused) for i, c in rows],
        )


class EventReplayRequest(Request):
    """Re-publish one event to its topic, keeping its id."""

    tenant: str | None = Field(default=None, description="The event's tenant (a tenant token: its own, the default)")
    trigger_id: str | None = None
    dry_run: bool = False
    force: bool = Field(default=False, description="Re-drive workflows that already ran the event")


class RangeReplayRequest(Request):
    """Re-publish a trigger's events of a time range, keeping their ids."""

    since: datetime
    until: datetime | None = Field(default=None, description="Default: now")
    dry_run: bool = False
    force: bool = False


class Replayed(Body):
    event_ids: list[str] = Field(description="What was (or, with dry_run, would be) published, in order")
    dry_run: bool
    forced: bool
    replay_id: str = Field(default="", description="This replay's id, in each written record's hookgate_replay header")

    @classmethod
    def of(cls, r: ReplayResult) -> Replayed:
        return cls(event_ids=list(r.event_ids), dry_run=r.dry_run, forced=r.forced, replay_id=r.replay_id)
