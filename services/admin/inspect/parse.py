"""Kafka records read back as the inspector's model: event records, audit records, dedupe done records. Pure.

- an event record (tenant topic) is a CloudEvent in binary content mode: ``ce_tenant`` and ``ce_trigger``
  (the trigger's name) say whose it is;
- an audit record (``{prefix}._audit``) is the JSON of :class:`~hookgate.gateway.audit.record.AuditRecord`:
  every request the gateway answered, accepted or not, named by trigger name, with the reply's status and
  reason (``bad_signature``, ``stale_timestamp``, ``ip_not_allowed``, ...);
- a done record (``{prefix}._dedupe.{group}``) is keyed ``{workflow}:{event id}`` with a
  :class:`~hookgate.consumer.state.dedupe.DoneRecord` value; the latest record of a key wins, a tombstone
  forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hookgate.admin.inspect.model import EventSummary, WorkflowOutcome
from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.core.records import attributes

Headers = Sequence[tuple[str, bytes | None]]
TriggerIds = Callable[[str], str | None]  # a trigger's name -> its id (None: unknown, e.g. deleted)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose requests a read keeps: one tenant's, optionally one trigger's (by its name)."""

    tenant: str
    trigger_name: str | None = None
    type: str | None = None

    def keeps(self, tenant: str | None, trigger: str | None) -> bool:
        return tenant == self.tenant and (self.trigger_name is None or trigger == self.trigger_name)


def event_summary(record: Any, scope: Scope, trigger_ids: TriggerIds) -> EventSummary | None:
    """The summary of an event record, or None when it is not an event of ``scope``."""
    attrs = attributes(record.headers or ())
    if "id" not in attrs or not scope.keeps(attrs.get("tenant"), attrs.get("trigger")):
        return None
    if scope.type is not None and attrs.get("type") != scope.type:
        return None
    name = attrs.get("trigger", "")
    return EventSummary(
        id=attrs["id"],
        trigger_id=trigger_ids(name) or "",
        tenant=scope.tenant,
        time=from_ms(record.timestamp),
        outcome="accepted",
        status=202,
        type=attrs.get("type"),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        trigger_name=name or None,
    )


def audit_doc(raw: bytes | None) -> dict[str, Any] | None:
    """An audit record's JSON object; None for anything else (a foreign or corrupt record is skipped)."""
    if not raw:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def audit_time(doc: Mapping[str, Any], fallback_ms: int) -> datetime:
    stamp = doc.get("timestamp")
    if isinstance(stamp, str):
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return from_ms(fallback_ms)


def is_refusal(doc: Mapping[str, Any]) -> bool:
    """A request the sender got an error for (4xx, 5xx): refused, failed to publish, or broken."""
    status = doc.get("status")
    return isinstance(status, int) and status >= 400


def refused_summary(doc: Mapping[str, Any], record: Any, scope: Scope, trigger_ids: TriggerIds) -> EventSummary | None:
    """The summary of a refused request's audit record, or None when it is not a refusal of ``scope``."""
    if scope.type is not None or not is_refusal(doc) or not scope.keeps(doc.get("tenant"), doc.get("trigger")):
        return None
    name = str(doc.get("trigger") or "")
    reason = doc.get("reason")
    return EventSummary(
        id=str(doc.get("request_id") or f"{record.partition}-{record.offset}"),
        trigger_id=trigger_ids(name) or "",
        tenant=scope.tenant,
        time=audit_time(doc, record.timestamp),
        outcome="refused",
        status=int(doc["status"]),
        reason=str(reason) if reason is not None else None,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        trigger_name=name or None,
    )


def audit_headers(doc: Mapping[str, Any]) -> dict[str, str]:
    """The request headers an audit record kept (``gateway.audit.include_headers``); empty otherwise."""
    headers = doc.get("headers")
    if not isinstance(headers, dict):
        return {}
    return {str(k): str(v) for k, v in headers.items()}


def variables(attrs: Mapping[str, str]) -> dict[str, Any]:
    """The variables the gateway extracted (the ``vars`` extension, a JSON object); empty when none."""
    raw = attrs.get("vars")
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def workflow_outcomes(
    group: str, event_id: str, records: Iterable[tuple[bytes | None, bytes | None]]
) -> list[WorkflowOutcome]:
    """What each workflow of ``group`` did with ``event_id``, from changelog ``(key, value)`` pairs in offset
    order: the latest done record of each workflow, none for a workflow whose record was tombstoned."""
    latest: dict[str, DoneRecord | None] = {}
    for raw_key, value in records:
        if raw_key is None:
            continue
        workflow, sep, key_id = raw_key.decode("utf-8", errors="replace").partition(":")
        if not sep or key_id != event_id:
            continue
        latest[workflow] = DoneRecord.decode(value) if value is not None else None
    return [
        WorkflowOutcome(group=group, workflow=workflow, outcome=done.outcome, at=datetime.fromtimestamp(done.at, UTC))
        for workflow, done in sorted(latest.items())
        if done is not None
    ]
