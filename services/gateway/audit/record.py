"""The audit record: one per webhook request, accepted or not, and the request's only log line.

Every request, whatever its outcome, gets exactly one ``event: "audit"`` line naming the trigger,
tenant, outcome, reason, status, method, sizes, client address, event id, request id and duration: the
audit record and the request log are the same facts, so they are one line. With ``audit.log: false``
the line is a minimal ``event: "webhook"`` request line instead (the logging conventions' fields,
status and method; no client address, sizes or headers), for deployments that keep client
addresses out of their logs. Optionally the record is also produced to the ``{prefix}._audit`` topic
(:mod:`hookgate.gateway.audit.topic`). Request paths (they hold the trigger id, a credential), query
strings (some senders put tokens there) and bodies are never recorded. Headers are left out by default;
when included, credentials, cookies, signatures, configured headers and every header the trigger's verify
preset reads (:meth:`~hookgate.gateway.verify.base.PresetConfig.header_names`, whatever it is called:
``header_token`` on ``X-Relay-Key``, a generic ``hmac`` on ``X-Sig``) are redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from aiohttp import web
from pydantic import Field, field_validator

from hookgate.core.config import StrictModel
from hookgate.core.logging import get_logger, info_line
from hookgate.core.timestamps import rfc3339_ms
from hookgate.gateway.intake.clientip import ClientAddress

log = get_logger("hookgate.gateway.audit.record")

REDACTED = "[redacted]"

# Credentials and every signature header a supported sender uses (lower case).
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-gitlab-token",
        "stripe-signature",
        "x-slack-signature",
        "webhook-signature",
        "svix-signature",
        "x-shopify-hmac-sha256",
        "x-twilio-signature",
        "x-twilio-email-event-webhook-signature",
        "x-pagerduty-signature",
        "x-square-hmacsha256-signature",
        "x-square-signature",
        "paddle-signature",
        "x-zm-signature",
        "linear-signature",
        "x-signature-ed25519",
        "twitch-eventsub-message-signature",
    }
)
# A header whose name contains one of these is redacted too: custom token and HMAC headers of the
# generic presets are named by configuration, and a miss here would leak a credential.
SENSITIVE_NAME_PARTS = ("auth", "token", "secret", "signature", "password", "cookie", "hmac", "api-key", "apikey")


class AuditSettings(StrictModel):
    """``gateway.audit``."""

    log: bool = Field(
        default=True,
        description="Log requests as audit lines; false: minimal request lines (no client address, sizes, headers)",
    )
    topic: bool = Field(default=False, description="Also produce each record to {prefix}._audit")
    include_headers: bool = Field(
        default=False,
        description="Record request headers (credentials, signatures and the headers verification reads redacted)",
    )
    redact_headers: list[str] = Field(default_factory=list, description="More header names to redact")
    queue_size: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Records waiting for Kafka; more are dropped"
    )
    retention_hours: int = Field(default=168, ge=1, le=87_600, description="retention.ms of the audit topic")

    @field_validator("redact_headers")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [h.strip().lower() for h in v]


def is_sensitive(name: str, extra: frozenset[str] = frozenset()) -> bool:
    n = name.lower()
    return n in SENSITIVE_HEADERS or n in extra or any(part in n for part in SENSITIVE_NAME_PARTS)


def redact_headers(headers: Iterable[tuple[str, str]], extra: frozenset[str] = frozenset()) -> dict[str, str]:
    """Headers as ``{lower-case name: value}`` (repeated ones joined by ``", "``), sensitive values redacted."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if is_sensitive(key, extra):
            out[key] = REDACTED
        else:
            out[key] = f"{out[key]}, {value}" if key in out else value
    return out


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened to one request. ``event_id`` is the sender's delivery id when it has one."""

    timestamp: str
    request_id: str
    trigger: str | None
    tenant: str | None
    method: str
    outcome: str
    reason: str
    status: int
    client_ip: str
    peer: str
    request_bytes: int
    body_bytes: int
    event_id: str | None
    duration_ms: float
    headers: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in _FIELDS}
        if self.headers is not None:
            d["headers"] = dict(self.headers)
        return d


_FIELDS = tuple(f.name for f in fields(AuditRecord) if f.name != "headers")


class Auditor:
    """Writes each request's one log line and hands its :class:`AuditRecord` to the optional topic writer.

    Neither may fail or delay the reply: the topic writer only enqueues (dropping when full).
    ``verify_headers`` maps a trigger's name to the headers its verify preset reads, redacted in that
    trigger's records on top of the fixed list and ``redact_headers``.
    """

    def __init__(
        self,
        settings: AuditSettings,
        topic: Callable[[AuditRecord], None] | None = None,
        verify_headers: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._settings = settings
        self._log = settings.log
        self._include_headers = settings.include_headers
        self._extra = frozenset(settings.redact_headers)
        # Each trigger's set is joined with the configured one once, here, not per request.
        self._by_trigger: dict[str, frozenset[str]] = {}
        self.set_verify_headers(verify_headers or {})
        self._topic = topic

    def set_verify_headers(self, verify_headers: Mapping[str, Iterable[str]]) -> None:
        """Redact these headers per trigger name from now on (the trigger set changed at run time)."""
        self._by_trigger = {name: self._extra | {h.lower() for h in names} for name, names in verify_headers.items()}

    def headers(self, headers: Iterable[tuple[str, str]], trigger: str | None = None) -> dict[str, str] | None:
        """The headers to record: ``None`` unless ``include_headers``, redacted otherwise (for ``trigger``'s
        verify preset too)."""
        if not self._include_headers:
            return None
        extra = self._by_trigger.get(trigger, self._extra) if trigger is not None else self._extra
        return redact_headers(headers, extra)

    def request(
        self,
        request: web.BaseRequest,
        *,
        request_id: str,
        trigger: str | None,
        tenant: str | None,
        client: ClientAddress,
        outcome: str,
        reason: str,
        status: int,
        event_id: str | None,
        seconds: float,
    ) -> None:
        """Record one handled request (sizes are as received: the head, and the body bytes read)."""
        body = int(getattr(request.content, "total_bytes", 0))
        head = len(request.method) + len(request.raw_path) + 12
        head += sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
        # Built once as the log line's fields; the record (with its own timestamp) only when a topic wants it.
        fields: dict[str, Any] = {
            "request_id": request_id,
            "trigger": trigger,
            "tenant": tenant,
            "method": request.method,
            "outcome": outcome,
            "reason": reason,
            "status": status,
            "client_ip": client.ip,
            "peer": client.peer,
            "request_bytes": head + body,
            "body_bytes": body,
            "event_id": event_id,
            "duration_ms": round(seconds * 1000, 3),
        }
        headers = self.headers(request.headers.items(), trigger)
        if headers is not None:
            fields["headers"] = headers
        self._write(fields)
        if self._topic is not None:
            self._topic(AuditRecord(timestamp=rfc3339_ms(), **fields))

    def _write(self, fields: dict[str, Any]) -> None:
        if self._log:
            info_line(log, "audit", fields)
        else:
            info_line(log, "webhook", {k: fields[k] for k in _REQUEST_LINE})


# The request line of ``audit.log: false``: the logging conventions' fields, the status and the method.
_REQUEST_LINE = ("request_id", "trigger", "tenant", "event_id", "outcome", "reason", "status", "method", "duration_ms")
