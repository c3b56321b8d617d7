"""An in-memory :class:`~hookgate.admin.inspect.model.EventInspector`, for unit tests of the admin API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hookgate.admin.inspect.model import Counts, EventDetail, EventQuery, EventSummary, ReplayResult


@dataclass
class Replay:
    """One replay call, as the inspector got it."""

    tenant: str
    trigger_id: str | None
    event_id: str | None
    since: datetime | None
    until: datetime | None
    dry_run: bool
    force: bool


@dataclass
class MemoryInspector:
    """Events given by the test; ``replays`` records every replay asked for."""

    details: list[EventDetail] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)

    def add(
        self,
        event_id: str,
        *,
        trigger_id: str,
        tenant: str,
        outcome: str = "accepted",
        ago_seconds: float = 60,
        reason: str | None = None,
        type: str = "dev.hookgate.webhook",
        body: str = '{"ok": true}',
        **extra: Any,
    ) -> EventDetail:
        accepted = outcome == "accepted"
        summary = EventSummary(
            id=event_id,
            trigger_id=trigger_id,
            tenant=tenant,
            time=datetime.now(UTC) - timedelta(seconds=ago_seconds),
            outcome="accepted" if accepted else "refused",
            status=202 if accepted else 401,
            reason=reason,
            type=type if accepted else None,
            topic=f"hookgate.{tenant}" if accepted else None,
            partition=0 if accepted else None,
            offset=len(self.details) if accepted else None,
        )
        detail = EventDetail(
            summary=summary,
            attributes={"id": event_id, "type": type, "tenant": tenant} if accepted else {},
            headers={"content-type": "application/json", "x-hub-signature-256": "[redacted]"},
            body=body,
            content_type="application/json",
            **extra,
        )
        self.details.append(detail)
        return detail

    async def events(self, query: EventQuery) -> list[EventSummary]:
        now = datetime.now(UTC)
        since = query.since or now - timedelta(hours=1)
        until = query.until or now
        out = [
            d.summary
            for d in self.details
            if (query.trigger_id is None or d.summary.trigger_id == query.trigger_id)
            and (query.tenant is None or d.summary.tenant == query.tenant)
            and (query.type is None or d.summary.type == query.type)
            and (query.outcome is None or d.summary.outcome == query.outcome)
            and since <= d.summary.time <= until
        ]
        out.sort(key=lambda s: s.time, reverse=True)
        return out[: query.limit]

    async def event(self, event_id: str, *, tenant: str, trigger_id: str | None = None) -> EventDetail | None:
        for d in self.details:
            s = d.summary
            if s.id == event_id and s.tenant == tenant and (trigger_id is None or s.trigger_id == trigger_id):
                return d
        return None

    async def counts(self, trigger_ids: Sequence[str], *, window_seconds: int = 3600) -> Mapping[str, Counts]:
        since = datetime.now(UTC) - timedelta(seconds=window_seconds)
        out = {}
        for tid in trigger_ids:
            rows = [d.summary for d in self.details if d.summary.trigger_id == tid and d.summary.time >= since]
            out[tid] = Counts(
                accepted=sum(r.outcome == "accepted" for r in rows), refused=sum(r.outcome == "refused" for r in rows)
            )
        return out

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
        self.replays.append(Replay(tenant, trigger_id, event_id, since, until, dry_run, force))
        if event_id is not None:
            ids = [event_id]
        else:
            query = EventQuery(trigger_id=trigger_id, tenant=tenant, since=since, until=until, outcome="accepted")
            ids = [s.id for s in reversed(await self.events(replace(query, limit=10_000)))]
        return ReplayResult(event_ids=ids, dry_run=dry_run, forced=force)
