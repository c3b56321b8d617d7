"""In-memory implementations of the inspector's small protocols, for tests: triggers and events without Kafka."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hookgate.admin.inspect.model import (
    Counts,
    EventDetail,
    EventNotFound,
    EventQuery,
    EventSummary,
    ReplayResult,
)
from hookgate.gateway.catalog.model import TriggerView

SECRET_KEYS = ("secrets", "tokens", "public_keys", "secret", "password")


def view_of(spec: Mapping[str, Any], *, base_url: str | None = None, state: str = "enabled") -> TriggerView:
    """A YAML trigger mapping as the catalog shows it: secrets left out of ``config``."""
    verify = {k: v for k, v in dict(spec["verify"]).items() if k not in SECRET_KEYS}
    config = {**{k: v for k, v in spec.items() if k != "verify"}, "verify": verify}
    return TriggerView(
        id=spec["id"],
        name=spec["name"],
        tenant=spec["tenant"],
        preset=verify["type"],
        state="enabled" if state == "enabled" else "disabled",
        origin="yaml",
        url=f"{base_url}/hooks/{spec['id']}" if base_url else None,
        config=config,
    )


class StaticTriggers:
    """A fixed set of triggers (what the inspector needs of the trigger catalog)."""

    def __init__(self, views: Iterable[TriggerView]) -> None:
        self._views = {v.id: v for v in views}

    def get(self, trigger_id: str) -> TriggerView | None:
        return self._views.get(trigger_id)

    def list(self, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]:
        return sorted(
            (v for v in self._views.values() if tenant in (None, v.tenant) and preset in (None, v.preset)),
            key=lambda v: v.id,
        )


@dataclass
class MemoryInspector:
    """An :class:`~hookgate.admin.inspect.model.EventInspector` over a list of details held in memory."""

    details: list[EventDetail] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)

    async def events(self, query: EventQuery) -> list[EventSummary]:
        now = datetime.now(UTC)
        since, until = query.since or now - timedelta(hours=1), query.until or now + timedelta(seconds=1)
        found = [
            d.summary
            for d in self.details
            if (query.trigger_id is None or d.summary.trigger_id == query.trigger_id)
            and (query.tenant is None or d.summary.tenant == query.tenant)
            and (query.outcome is None or d.summary.outcome == query.outcome)
            and (query.type is None or d.summary.type == query.type)
            and since <= d.summary.time < until
        ]
        return sorted(found, key=lambda s: s.time, reverse=True)[: query.limit]

    async def event(self, event_id: str, *, tenant: str, trigger_id: str | None = None) -> EventDetail | None:
        for d in self.details:
            if d.summary.id == event_id and d.summary.tenant == tenant and trigger_id in (None, d.summary.trigger_id):
                return d
        return None

    async def counts(self, trigger_ids: Sequence[str], *, window_seconds: int = 3600) -> Mapping[str, Counts]:
        since = datetime.now(UTC) - timedelta(seconds=window_seconds)
        out: dict[str, Counts] = {}
        for tid in trigger_ids:
            mine = [d.summary for d in self.details if d.summary.trigger_id == tid and d.summary.time >= since]
            out[tid] = Counts(
                accepted=sum(s.outcome == "accepted" for s in mine), refused=sum(s.outcome == "refused" for s in mine)
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
        if event_id is not None:
            detail = await self.event(event_id, tenant=tenant, trigger_id=trigger_id)
            if detail is None or detail.summary.outcome != "accepted":
                raise EventNotFound(event_id)
            ids = [event_id]
        else:
            query = EventQuery(trigger_id=trigger_id, tenant=tenant, since=since, until=until, outcome="accepted")
            ids = [s.id for s in await self.events(query)]
        self.replays.append({"tenant": tenant, "event_ids": ids, "dry_run": dry_run, "force": force})
        return ReplayResult(event_ids=ids, dry_run=dry_run, forced=force, replay_id=f"replay-{len(self.replays)}")


def accepted(event_id: str, trigger: TriggerView, *, body: str = '{"ok": true}', **more: Any) -> EventDetail:
    """An accepted event's detail, as a test builds it."""
    summary = EventSummary(
        id=event_id,
        trigger_id=trigger.id,
        tenant=trigger.tenant,
        time=datetime.now(UTC),
        outcome="accepted",
        status=202,
        type="com.github.push",
        topic=f"hookgate.{trigger.tenant}",
        partition=0,
        offset=0,
        trigger_name=trigger.name,
    )
    detail = EventDetail(
        summary=summary,
        attributes={"id": event_id, "type": "com.github.push", "source": f"/hookgate/{trigger.name}"},
        headers={"content-type": "application/json", "x-hub-signature-256": "[redacted]"},
        body=body,
        content_type="application/json",
    )
    return replace(detail, **more)


def refused(request_id: str, trigger: TriggerView, reason: str = "bad_signature", status: int = 401) -> EventDetail:
    summary = EventSummary(
        id=request_id,
        trigger_id=trigger.id,
        tenant=trigger.tenant,
        time=datetime.now(UTC),
        outcome="refused",
        status=status,
        reason=reason,
        trigger_name=trigger.name,
    )
    return EventDetail(summary=summary, attributes={}, headers={}, body=None)
