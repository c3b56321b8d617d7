"""The admin API's audit trail: one record per call, on the gateway's audit paths.

Each admin call, whatever its outcome (401s included), gives one ``admin_audit`` log line and, when
``gateway.audit.topic`` is on, one record on the same ``{prefix}._audit`` topic the webhook records go
to, through the gateway's :class:`~hookgate.gateway.audit.topic.AuditTopicWriter`. Admin records carry
``"kind": "admin"`` (webhook records have no ``kind``), so a reader of the topic tells them apart.

A record says who (the token's name and scope, never the token), what (method, route template,
trigger id, event id, the replay's options and how many events it published) and when, and the
outcome (status and error code). Request bodies, secrets and the Authorization header never are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hookgate.core.logging import get_logger, info_line
from hookgate.core.timestamps import rfc3339_ms

log = get_logger("hookgate.admin.audit")


@dataclass(frozen=True, slots=True)
class AdminAuditRecord:
    """One admin call, as logged and as written to the audit topic."""

    timestamp: str
    request_id: str
    actor: str | None  # the token's name; None when no valid token was presented
    scope: str | None
    method: str
    route: str  # the route template (``/admin/triggers/{id}``), never a raw path
    status: int
    outcome: str  # "ok" (2xx), "refused" (4xx) or "error" (5xx)
    reason: str | None  # the error code of a refusal
    duration_ms: float
    trigger_id: str | None = None
    tenant: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # e.g. replay: event_id, dry_run, force, published

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field, ``kind: "admin"`` first."""
        out: dict[str, Any] = {"kind": "admin"}
        for name in _FIELDS:
            out[name] = getattr(self, name)
        out.update(self.details)
        return out


_FIELDS = (
    "timestamp",
    "request_id",
    "actor",
    "scope",
    "method",
    "route",
    "trigger_id",
    "tenant",
    "status",
    "outcome",
    "reason",
    "duration_ms",
)


def outcome_of(status: int) -> str:
    """``ok`` for 2xx/3xx, ``refused`` for 4xx, ``error`` for 5xx."""
    return "error" if status >= 500 else "refused" if status >= 400 else "ok"


class AdminAuditor:
    """Writes each admin call's ``admin_audit`` line and hands the record to the optional topic writer.

    ``topic`` is the gateway's audit topic writer's ``submit`` (it only enqueues: an admin call never
    waits for, or fails because of, the audit topic).
    """

    def __init__(self, topic: Callable[[AdminAuditRecord], None] | None = None) -> None:
        self._topic = topic

    def record(self, **fields: Any) -> AdminAuditRecord:
        """Write one record (``fields``: :class:`AdminAuditRecord`'s, less the timestamp) and return it."""
        rec = AdminAuditRecord(timestamp=rfc3339_ms(), **fields)
        line = rec.to_dict()
        line.pop("timestamp")  # the log line has its own
        line.pop("kind")
        info_line(log, "admin_audit", line)
        if self._topic is not None:
            self._topic(rec)
        return rec
