"""The inspector's public shape, as the admin API serves it (JSON) and the web inspector shows it.

Everything is read from Kafka: a tenant topic located by timestamp (``offsets_for_times``) for
accepted events, the audit topic (``{prefix}._audit``) for refused requests, and the consumer groups'
dedupe changelogs for per-workflow outcomes. Headers and bodies are redacted by the audit log's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Outcome = Literal["accepted", "refused"]


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which requests to list: one trigger's or one tenant's, newest first."""

    trigger_id: str | None = None
    tenant: str | None = None
    since: datetime | None = None  # default: an hour ago
    until: datetime | None = None  # default: now
    type: str | None = None  # CloudEvents type, exact
    outcome: Outcome | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EventSummary:
    """One request: an accepted event (with its place in Kafka) or a refused request (with its reason)."""

    id: str  # the event id; for a refused request, the audit record's request id
    trigger_id: str
    tenant: str
    time: datetime
    outcome: Outcome
    status: int  # the HTTP status the sender got
    reason: str | None = None  # for refusals: "bad_signature", "stale_timestamp", "ip_not_allowed", ...
    type: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    trigger_name: str | None = None  # the trigger's name as the record holds it (also for deleted triggers)


@dataclass(frozen=True, slots=True)
class WorkflowOutcome:
    """What one consumer group's workflow did with the event (from the group's dedupe changelog)."""

    group: str
    workflow: str
    outcome: str  # "succeeded", "dead_lettered", ...
    at: datetime | None = None
    attempts: int | None = None


@dataclass(frozen=True, slots=True)
class EventDetail:
    """One event in full: redacted headers, the body, CloudEvents attributes, variables, outcomes."""

    summary: EventSummary
    attributes: Mapping[str, str]  # CloudEvents context attributes and extensions
    headers: Mapping[str, str]  # redacted
    body: str | None  # text (JSON/XML pretty-printing is the page's job); None when not kept
    body_base64: str | None = None  # a body that is not UTF-8 text
    content_type: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    workflows: Sequence[WorkflowOutcome] = ()
    record_headers: Mapping[str, str] = field(default_factory=dict)  # Kafka headers that are not attributes
    body_redacted: bool = False  # a credential field of the body was replaced by "[redacted]"
    deliveries: Sequence[EventSummary] = ()  # every record with this id (redeliveries, replays), oldest first
    request: Mapping[str, Any] = field(default_factory=dict)  # the audit record's facts: method, client_ip, sizes


@dataclass(frozen=True, slots=True)
class Counts:
    accepted: int
    refused: int
    complete: bool = True  # False when the read stopped at its limit or deadline (the counts are lower bounds)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay published (or, with ``dry_run``, would publish): the event ids, in order."""

    event_ids: Sequence[str]
    dry_run: bool
    forced: bool
    replay_id: str = ""  # one id per replay, in each republished record's ``hookgate_replay`` header
    redrive_id: str | None = None  # with ``forced``: the re-drive id (``hookgate_redrive`` header)
    topics: Mapping[str, int] = field(default_factory=dict)  # records (to be) written, per topic


class InspectError(Exception):
    """An inspection or replay that could not be done; the admin API maps each subclass to one status."""


class InspectorUnavailable(InspectError):
    """Kafka did not answer in time (503)."""


class EventNotFound(InspectError):
    """No event with this id among the records the inspector reads (404)."""


class ReplayTooLarge(InspectError):
    """The range holds more events than one replay may publish (422); nothing was published."""


class EventInspector(Protocol):
    """Reads a trigger's requests from Kafka and re-publishes its events. Scoping by tenant is the caller's."""

    async def events(self, query: EventQuery) -> list[EventSummary]: ...

    async def event(self, event_id: str, *, tenant: str, trigger_id: str | None = None) -> EventDetail | None: ...

    async def counts(self, trigger_ids: Sequence[str], *, window_seconds: int = 3600) -> Mapping[str, Counts]:
        """Accepted and refused requests of each trigger in the last ``window_seconds``."""
        ...

    async def replay(
        self,
        *,
        tenant: str,
        trigger_id: str | None = None,
        event_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        dry_run: bool = False,
        force: bool = False,
    ) -> ReplayResult:
        """Re-publish one event (``event_id``) or a trigger's events in a time range, keeping their ids;
        ``force`` re-drives them so that workflows that already ran them run again."""
        ...
