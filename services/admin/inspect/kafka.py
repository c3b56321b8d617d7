"""The :class:`~hookgate.admin.inspect.model.EventInspector` on Kafka itself: no other store.

- **Accepted events** come from the trigger's event topic (the tenant's, or the trigger's own ``topic``),
  located by time with ``offsets_for_times`` on every partition and read forward to ``until``.
- **Refused requests** come from the audit topic ``{prefix}._audit``, which exists when the gateway runs
  with ``gateway.audit.topic: true``; without it the inspector shows accepted events only. The same
  records give each accepted event its request headers (when ``gateway.audit.include_headers``) and
  the triggers page its counts.
- **Per-workflow outcomes** come from the consumer groups' dedupe changelogs ``{prefix}._dedupe.{group}``
  (found by listing topics, plus the ``changelogs`` given for groups with a configured name): the changelog
  partition of the event's source partition, read forward from the event's time.

Every read is bounded: a listing, search or count reads at most ``scan_records`` records per topic (the
newest of the range) within ``deadline_seconds``; what it could not reach is reported (``Counts.complete``)
or simply not listed, never waited for. A replay reads its whole range or publishes nothing.

Triggers are named by id in the API and by name in Kafka records (``ce_trigger``, the audit record's
``trigger``); the trigger catalog maps one to the other. Scoping a caller to its tenant is the caller's
job: the inspector only keeps records of the tenant it is asked about.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from hookgate.admin.inspect import parse, replay
from hookgate.admin.inspect.model import (
    Counts,
    EventDetail,
    EventNotFound,
    EventQuery,
    EventSummary,
    InspectorUnavailable,
    ReplayResult,
    ReplayTooLarge,
    WorkflowOutcome,
)
from hookgate.admin.inspect.parse import Scope
from hookgate.admin.inspect.redact import redact_body, redact_request_headers, verify_header_names
from hookgate.core import reading
from hookgate.core.kafka import make_consumer, make_producer, stop_consumer
from hookgate.core.logging import get_logger
from hookgate.core.records import attributes, other_headers
from hookgate.core.settings import KafkaSettings
from hookgate.core.topics import audit_topic, dedupe_topic
from hookgate.gateway.catalog.model import TriggerView

if TYPE_CHECKING:
    from hookgate.gateway.config import GatewayConfig

log = get_logger("hookgate.admin.inspect")

_AUDIT_FACTS = ("method", "client_ip", "peer", "request_bytes", "body_bytes", "duration_ms", "request_id", "reason")


class TriggerSource(Protocol):
    """What the inspector needs of the trigger catalog (:class:`~hookgate.gateway.catalog.model.TriggerCatalog`
    has it): a trigger by id, and a tenant's triggers."""

    def get(self, trigger_id: str) -> TriggerView | None: ...

    def list(self, *, tenant: str | None = None, preset: str | None = None) -> list[TriggerView]: ...


@dataclass(frozen=True, slots=True)
class InspectorLimits:
    """How much one call may read."""

    scan_records: int = 20_000  # records per topic for a listing, a search by id, or a count (the newest)
    changelog_records: int = 20_000  # done records per changelog partition, from the event's time on
    deadline_seconds: float = 10.0  # one listing, search or count
    audit_window_seconds: float = 120.0  # how long after an event its audit record is looked for
    replay_events: int = 10_000  # events one replay may publish
    replay_deadline_seconds: float = 60.0  # reading one replay's range


class _Budget:
    """A call's deadline, and whether a read stopped short of what it was asked (limit, deadline, stall)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.truncated = False

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def spent(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.truncated = True
            return True
        return False


Visit = Callable[[Any], bool]  # sees one record; False stops the read


class KafkaEventInspector:
    """Reads requests, events and outcomes from Kafka and replays events. One consumer per call (calls
    run concurrently and each assigns its own partitions); one producer, started by the first replay."""

    def __init__(
        self,
        kafka: KafkaSettings,
        triggers: TriggerSource,
        *,
        redact_headers: Iterable[str] = (),
        changelogs: Mapping[str, str] | None = None,
        limits: InspectorLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``redact_headers`` is ``gateway.audit.redact_headers``; ``changelogs`` maps consumer groups whose
        ``consumer.dedupe.topic`` is configured to that topic (groups with the default name are found)."""
        self._kafka = kafka
        self._triggers = triggers
        self._extra = frozenset(h.lower() for h in redact_headers)
        self._changelogs = dict(changelogs or {})
        self._limits = limits or InspectorLimits()
        self._clock = clock
        self._audit = audit_topic(kafka.topics)
        self._dedupe_prefix = dedupe_topic(kafka.topics, "")
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()

    @classmethod
    def for_gateway(cls, config: GatewayConfig, triggers: TriggerSource) -> KafkaEventInspector:
        """The inspector of a gateway process: its Kafka settings, its catalog, its audit redaction list."""
        return cls(config.kafka, triggers, redact_headers=config.gateway.audit.redact_headers)

    async def __aenter__(self) -> KafkaEventInspector:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the replay producer, if a replay started it."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    # -- the protocol ------------------------------------------------------------------------------------

    async def events(self, query: EventQuery) -> list[EventSummary]:
        """The newest ``query.limit`` requests of a trigger or tenant in the time range, newest first."""
        target = self._target(query.tenant, query.trigger_id)
        if target is None or query.limit <= 0:
            return []
        scope, topics = target
        scope = Scope(scope.tenant, scope.trigger_name, query.type)
        since_ms, until_ms = self._range(query.since, query.until)
        ids = self._trigger_ids(scope.tenant)
        budget = _Budget(self._limits.deadline_seconds)
        found: list[EventSummary] = []
        async with self._reader(budget) as client:
            if query.outcome in (None, "accepted"):
                for topic in topics:
                    found += await self._newest(client, topic, since_ms, until_ms, budget, query.limit,
                                                lambda r: parse.event_summary(r, scope, ids))  # fmt: skip
            if query.outcome in (None, "refused") and query.type is None:
                found += await self._newest(client, self._audit, since_ms, until_ms, budget, query.limit,
                                            lambda r: self._refusal(r, scope, ids))  # fmt: skip
        found.sort(key=lambda s: (s.time, s.offset or 0), reverse=True)
        return found[: query.limit]

    async def event(self, event_id: str, *, tenant: str, trigger_id: str | None = None) -> EventDetail | None:
        """An accepted event in full (or, for a refused request's id, what its audit record holds)."""
        target = self._target(tenant, trigger_id)
        if target is None:
            return None
        scope, topics = target
        ids = self._trigger_ids(scope.tenant)
        budget = _Budget(self._limits.deadline_seconds)
        async with self._reader(budget) as client:
            records = await self._find(client, topics, event_id, scope, budget)
            if not records:
                return await self._refusal_detail(client, event_id, scope, ids, budget)
            first = records[0]
            deliveries = [s for r in records if (s := parse.event_summary(r, scope, ids)) is not None]
            attrs = attributes(first.headers or ())
            view = self._view_named(scope.tenant, attrs.get("trigger"))
            doc = await self._accepted_audit(client, event_id, scope, first.timestamp, budget)
            workflows = await self._outcomes(client, event_id, {r.partition for r in records}, first.timestamp, budget)
        body = redact_body(first.value or b"", attrs.get("datacontenttype"))
        headers = redact_request_headers(parse.audit_headers(doc or {}), self._verify_headers(view), self._extra)
        return EventDetail(
            summary=deliveries[0],
            attributes=attrs,
            headers=headers,
            body=body.text,
            body_base64=body.base64,
            content_type=attrs.get("datacontenttype"),
            variables=parse.variables(attrs),
            workflows=workflows,
            record_headers=other_headers(first.headers or ()),
            body_redacted=body.redacted,
            deliveries=deliveries,
            request=_facts(doc) if doc is not None else {},
        )

    async def counts(self, trigger_ids: Sequence[str], *, window_seconds: int = 3600) -> Mapping[str, Counts]:
        """Accepted and refused requests per trigger in the window, from the audit topic (or, without it,
        accepted events from the event topics; ``complete`` is then False, refusals being unknown)."""
        views = {tid: v for tid in trigger_ids if (v := self._triggers.get(tid)) is not None}
        by_name: dict[tuple[str | None, str | None], str] = {(v.tenant, v.name): tid for tid, v in views.items()}
        tally: dict[str, list[int]] = {tid: [0, 0] for tid in trigger_ids}
        since_ms = int((self._clock() - window_seconds) * 1000)
        budget = _Budget(self._limits.deadline_seconds)
        complete = True

        def count_audit(record: Any) -> bool:
            doc = parse.audit_doc(record.value)
            if doc is not None and (tid := by_name.get((doc.get("tenant"), doc.get("trigger")))) is not None:
                if doc.get("outcome") == "accepted":
                    tally[tid][0] += 1
                elif parse.is_refusal(doc):
                    tally[tid][1] += 1
            return True

        def count_event(record: Any) -> bool:
            attrs = attributes(record.headers or ())
            if (tid := by_name.get((attrs.get("tenant"), attrs.get("trigger")))) is not None:
                tally[tid][0] += 1
            return True

        if views:
            async with self._reader(budget) as client:
                if await self._exists(client, self._audit):
                    await self._read(
                        client, self._audit, since_ms, None, budget, self._limits.scan_records, count_audit
                    )
                else:
                    complete = False
                    for topic in sorted({self._topic_of(v) for v in views.values()}):
                        await self._read(client, topic, since_ms, None, budget, self._limits.scan_records, count_event)
        complete = complete and not budget.truncated
        return {tid: Counts(accepted=a, refused=r, complete=complete) for tid, (a, r) in tally.items()}

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
        """Write one event (``event_id``) or a trigger's (else the tenant's) events in ``[since, until)`` (the
        last hour by default) again, to the partition each was read from; see :mod:`.replay`."""
        target = self._target(tenant, trigger_id)
        if target is None:
            raise EventNotFound(f"no trigger {trigger_id!r} of tenant {tenant!r}")
        scope, topics = target
        budget = _Budget(self._limits.replay_deadline_seconds)
        async with self._reader(budget) as client:
            if event_id is not None:
                records = await self._find(client, topics, event_id, scope, budget)
                if not records:
                    raise EventNotFound(f"no event {event_id!r} among the newest records of {', '.join(topics)}")
                chosen = records[:1]
            else:
                chosen = await self._range_records(client, topics, scope, since, until, budget)
        replay_id = str(uuid.uuid4())
        redrive_id = str(uuid.uuid4()) if force else None
        copies = [replay.copy_of(r, replay_id, redrive_id) for r in chosen]
        if copies and not dry_run:
            try:
                await replay.publish(await self._started_producer(), copies)
            except KafkaError as exc:
                raise InspectorUnavailable(f"Kafka did not acknowledge the replay: {exc}") from None
        log.info(
            "replay",
            replay_id=replay_id,
            redrive_id=redrive_id,
            tenant=scope.tenant,
            trigger=scope.trigger_name,
            events=len(copies),
            dry_run=dry_run,
        )
        return ReplayResult(
            event_ids=[c.event_id for c in copies],
            dry_run=dry_run,
            forced=force,
            replay_id=replay_id,
            redrive_id=redrive_id,
            topics=dict(Counter(c.topic for c in copies)),
        )

    # -- triggers ---------------------------------------------------------------------------------------

    def _target(self, tenant: str | None, trigger_id: str | None) -> tuple[Scope, list[str]] | None:
        """Whose records to keep and which event topics hold them; None for an unknown (or other tenant's) trigger."""
        if trigger_id:
            view = self._triggers.get(trigger_id)
            if view is None or (tenant is not None and view.tenant != tenant):
                return None
            return Scope(view.tenant, view.name), [self._topic_of(view)]
        if tenant is None:
            return None
        topics = {
            self._kafka.topics.topic_for(tenant),
            *(self._topic_of(v) for v in self._triggers.list(tenant=tenant)),
        }
        return Scope(tenant), sorted(topics)

    def _topic_of(self, view: TriggerView) -> str:
        own = view.config.get("topic")
        return own if isinstance(own, str) and own else self._kafka.topics.topic_for(view.tenant)

    def _trigger_ids(self, tenant: str) -> Callable[[str], str | None]:
        return {v.name: v.id for v in self._triggers.list(tenant=tenant)}.get

    def _view_named(self, tenant: str, name: str | None) -> TriggerView | None:
        return next((v for v in self._triggers.list(tenant=tenant) if v.name == name), None)

    def _verify_headers(self, view: TriggerView | None) -> frozenset[str]:
        verify = view.config.get("verify") if view is not None else None
        return verify_header_names(verify if isinstance(verify, Mapping) else None)

    def _range(self, since: datetime | None, until: datetime | None) -> tuple[int, int | None]:
        now = self._clock()
        since_ms = parse.to_ms(since) if since is not None else int((now - 3600) * 1000)
        return since_ms, parse.to_ms(until) if until is not None else None

    # -- reading ----------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reader(self, budget: _Budget) -> AsyncIterator[AIOKafkaConsumer]:
        client = make_consumer(self._kafka, group_id=None, offset_reset="earliest")  # reads seek themselves
        try:
            async with asyncio.timeout(max(1.0, budget.left())):
                await client.start()
        except (TimeoutError, KafkaError, OSError) as exc:
            await stop_consumer(client)
            raise InspectorUnavailable(f"cannot reach Kafka: {exc or type(exc).__name__}") from None
        try:
            yield client
        except KafkaError as exc:
            raise InspectorUnavailable(f"Kafka failed during the read: {exc}") from None
        finally:
            await stop_consumer(client)

    async def _exists(self, client: AIOKafkaConsumer, topic: str) -> bool:
        try:
            await reading.partitions_of(client, topic)
        except reading.UnknownTopic:
            return False
        return True

    async def _read(
        self,
        client: AIOKafkaConsumer,
        topic: str,
        since_ms: int | None,
        until_ms: int | None,
        budget: _Budget,
        cap: int | None,
        visit: Visit,
        partitions: Sequence[int] | None = None,
    ) -> None:
        """Show ``visit`` the records of ``topic`` stamped in [since, until), partition by partition.

        With ``cap``, a range longer than that is cut to its newest records (``cap`` in all, shared by the
        partitions). A missing topic has no records. The deadline and a stalled partition stop the read.
        """
        try:
            parts = await reading.partitions_of(client, topic)
        except reading.UnknownTopic:
            return
        if partitions is not None:
            parts = [tp for tp in parts if tp.partition in partitions]
        ranges = await reading.offset_ranges(client, parts, since_ms, until_ms)
        if cap is not None and sum(end - start for start, end in ranges.values()) > cap:
            share = max(1, cap // len(ranges))
            ranges = {tp: (max(start, end - share), end) for tp, (start, end) in ranges.items()}
            budget.truncated = True
        await self._read_ranges(client, ranges, budget, visit)

    async def _newest(
        self,
        client: AIOKafkaConsumer,
        topic: str,
        since_ms: int | None,
        until_ms: int | None,
        budget: _Budget,
        want: int,
        convert: Callable[[Any], EventSummary | None],
    ) -> list[EventSummary]:
        """Up to ``want`` summaries per partition of the newest records of ``topic`` in the range, read backwards
        in growing windows: a listing of a few requests reads a few hundred records, not the whole hour, and
        never more than ``scan_records`` (the live trigger page asks every few seconds)."""
        try:
            parts = await reading.partitions_of(client, topic)
        except reading.UnknownTopic:
            return []
        ranges = await reading.offset_ranges(client, parts, since_ms, until_ms)
        found: list[EventSummary] = []
        kept: Counter[tuple[str, int]] = Counter()
        low = {tp: end for tp, (_, end) in ranges.items()}
        window, scanned = max(100, 2 * want), 0

        def visit(record: Any) -> bool:
            summary = convert(record)
            if summary is not None:
                found.append(summary)
                kept[(record.topic, record.partition)] += 1
            return True

        while True:
            todo = {
                tp: (max(start, low[tp] - window), low[tp])
                for tp, (start, _) in ranges.items()
                if low[tp] > start and kept[(tp.topic, tp.partition)] < want
            }
            if not todo:
                return found
            if scanned >= self._limits.scan_records or budget.spent():
                budget.truncated = True
                return found
            await self._read_ranges(client, todo, budget, visit)
            scanned += sum(hi - lo for lo, hi in todo.values())
            for tp, (lo, _) in todo.items():
                low[tp] = lo
            window *= 4

    async def _read_ranges(
        self, client: AIOKafkaConsumer, ranges: Mapping[TopicPartition, tuple[int, int]], budget: _Budget, visit: Visit
    ) -> None:
        """Show ``visit`` the records of ``ranges`` until they end, ``visit`` says stop, or the deadline."""
        if budget.spent():
            return
        try:
            async with contextlib.aclosing(
                reading.read_ranges(client, ranges, fetch_ms=250, stall_fetches=12)
            ) as records:
                async for record in records:
                    if not visit(record) or budget.spent():
                        return
        except reading.PartitionStalled:
            budget.truncated = True

    async def _find(
        self, client: AIOKafkaConsumer, topics: Sequence[str], event_id: str, scope: Scope, budget: _Budget
    ) -> list[Any]:
        """Every record of ``scope`` with ``ce_id`` = ``event_id`` among the newest of ``topics``, oldest first."""
        wanted = event_id.encode()
        found: list[Any] = []

        def visit(record: Any) -> bool:
            headers = record.headers or ()
            if any(name == "ce_id" and value == wanted for name, value in headers):
                attrs = attributes(headers)
                if scope.keeps(attrs.get("tenant"), attrs.get("trigger")):
                    found.append(record)
            return True

        for topic in topics:
            await self._read(client, topic, None, None, budget, self._limits.scan_records, visit)
        found.sort(key=lambda r: (r.timestamp, r.offset))
        return found

    async def _range_records(
        self,
        client: AIOKafkaConsumer,
        topics: Sequence[str],
        scope: Scope,
        since: datetime | None,
        until: datetime | None,
        budget: _Budget,
    ) -> list[Any]:
        """The oldest record of each event of ``scope`` in the range, all of it read, in time order."""
        since_ms, until_ms = self._range(since, until)
        limit = self._limits.replay_events
        records: list[Any] = []
        ids: set[str] = set()

        def visit(record: Any) -> bool:
            attrs = attributes(record.headers or ())
            if "id" in attrs and scope.keeps(attrs.get("tenant"), attrs.get("trigger")):
                records.append(record)
                ids.add(attrs["id"])
            return len(ids) <= limit

        for topic in topics:
            await self._read(client, topic, since_ms, until_ms, budget, None, visit)
            if len(ids) > limit:
                raise ReplayTooLarge(f"the range holds more than {limit} events: replay a shorter range")
        if budget.truncated:
            raise InspectorUnavailable("the range could not be read in time; nothing was replayed")
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return replay.first_of_each_id(records)

    def _refusal(self, record: Any, scope: Scope, ids: parse.TriggerIds) -> EventSummary | None:
        doc = parse.audit_doc(record.value)
        return parse.refused_summary(doc, record, scope, ids) if doc is not None else None

    async def _accepted_audit(
        self, client: AIOKafkaConsumer, event_id: str, scope: Scope, at_ms: int, budget: _Budget
    ) -> dict[str, Any] | None:
        """The audit record of the request that produced the event (its headers, client address, sizes)."""
        found: list[dict[str, Any]] = []

        def visit(record: Any) -> bool:
            doc = parse.audit_doc(record.value)
            accepted = doc is not None and doc.get("event_id") == event_id and doc.get("outcome") == "accepted"
            if accepted and doc is not None and scope.keeps(doc.get("tenant"), doc.get("trigger")):
                found.append(doc)
                return False
            return True

        until_ms = at_ms + int(self._limits.audit_window_seconds * 1000)
        await self._read(client, self._audit, at_ms - 30_000, until_ms, budget, self._limits.scan_records, visit)
        return found[0] if found else None

    async def _refusal_detail(
        self, client: AIOKafkaConsumer, request_id: str, scope: Scope, ids: parse.TriggerIds, budget: _Budget
    ) -> EventDetail | None:
        found: list[tuple[dict[str, Any], EventSummary]] = []

        def visit(record: Any) -> bool:
            doc = parse.audit_doc(record.value)
            if doc is not None and doc.get("request_id") == request_id:
                summary = parse.refused_summary(doc, record, scope, ids)
                if summary is not None:
                    found.append((doc, summary))
                    return False
            return True

        await self._read(client, self._audit, None, None, budget, self._limits.scan_records, visit)
        if not found:
            return None
        doc, summary = found[0]
        view = self._view_named(scope.tenant, summary.trigger_name)
        headers = redact_request_headers(parse.audit_headers(doc), self._verify_headers(view), self._extra)
        return EventDetail(summary=summary, attributes={}, headers=headers, body=None, request=_facts(doc))

    async def _outcomes(
        self, client: AIOKafkaConsumer, event_id: str, partitions: set[int], at_ms: int, budget: _Budget
    ) -> list[WorkflowOutcome]:
        """Each consumer group's done records of ``event_id``: in the changelog partitions of the event's
        source partitions, from the event's time on (at most ``changelog_records`` per partition)."""
        topics = {t for t in await client.topics() if t.startswith(self._dedupe_prefix)}
        changelogs = {t[len(self._dedupe_prefix) :]: t for t in topics}
        changelogs.update(self._changelogs)
        out: list[WorkflowOutcome] = []
        for group, topic in sorted(changelogs.items()):
            try:
                parts = await reading.partitions_of(client, topic)
            except reading.UnknownTopic:
                continue
            wanted = sorted({p % len(parts) for p in partitions})
            pairs: list[tuple[bytes | None, bytes | None]] = []

            def visit(record: Any, pairs: list[tuple[bytes | None, bytes | None]] = pairs) -> bool:
                pairs.append((record.key, record.value))
                return True

            tps = [TopicPartition(topic, p) for p in wanted]
            ranges = await reading.offset_ranges(client, tps, at_ms - 1000, None)
            if any(end - start > self._limits.changelog_records for start, end in ranges.values()):
                budget.truncated = True
            capped = {
                tp: (start, min(end, start + self._limits.changelog_records)) for tp, (start, end) in ranges.items()
            }
            await self._read_ranges(client, capped, budget, visit)
            out.extend(parse.workflow_outcomes(group, event_id, pairs))
        return out

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = make_producer(self._kafka)
                try:
                    await producer.start()
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    raise InspectorUnavailable(f"cannot reach Kafka: {exc}") from None
                self._producer = producer
            return self._producer


def _facts(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in _AUDIT_FACTS if k in doc}
