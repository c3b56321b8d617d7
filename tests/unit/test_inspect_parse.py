"""Kafka records read back as the inspector's model: event records, audit records, dedupe done records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from hookgate.admin.inspect import replay
from hookgate.admin.inspect.parse import (
    Scope,
    audit_doc,
    event_summary,
    refused_summary,
    variables,
    workflow_outcomes,
)
from hookgate.consumer.state.deadletter import H_REDRIVE, H_REDRIVE_WORKFLOW
from hookgate.consumer.state.dedupe import DoneRecord
from hookgate.core.envelope import Envelope

IDS = {"gh": "trigger-id-gh"}.get


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord the inspector reads."""

    headers: list[tuple[str, bytes]]
    value: bytes | None = b"{}"
    key: bytes | None = b"k"
    topic: str = "hookgate.acme"
    partition: int = 1
    offset: int = 7
    timestamp: int = 1_700_000_000_000
    extra: dict[str, str] = field(default_factory=dict)


def envelope_record(event_id: str, *, tenant: str = "acme", trigger: str = "gh", **more: str) -> Record:
    env = Envelope(
        id=event_id,
        source="/hookgate/gh",
        type="com.github.push",
        data=b"{}",
        datacontenttype="application/json",
        extensions={"tenant": tenant, "trigger": trigger, **more},
    )
    return Record(headers=env.to_headers())


def test_event_records_of_the_scope_become_summaries() -> None:
    summary = event_summary(envelope_record("d-1"), Scope("acme", "gh"), IDS)
    assert summary is not None
    assert (summary.id, summary.trigger_id, summary.outcome, summary.status, summary.type) == (
        "d-1",
        "trigger-id-gh",
        "accepted",
        202,
        "com.github.push",
    )
    assert (summary.topic, summary.partition, summary.offset) == ("hookgate.acme", 1, 7)
    assert summary.time == datetime.fromtimestamp(1_700_000_000, UTC)
    assert event_summary(envelope_record("d-1", tenant="globex"), Scope("acme"), IDS) is None
    assert event_summary(envelope_record("d-1", trigger="other"), Scope("acme", "gh"), IDS) is None
    assert event_summary(envelope_record("d-1"), Scope("acme", type="com.github.issues"), IDS) is None
    deleted = event_summary(envelope_record("d-1", trigger="gone"), Scope("acme"), IDS)
    assert deleted is not None
    assert (deleted.trigger_id, deleted.trigger_name) == ("", "gone")
    assert event_summary(Record(headers=[("foo", b"bar")]), Scope("acme"), IDS) is None


def test_audit_records_give_refusals_with_their_reason() -> None:
    doc = {
        "timestamp": "2026-12-02T01:00:00.250Z",
        "request_id": "req-1",
        "trigger": "gh",
        "tenant": "acme",
        "outcome": "rejected",
        "reason": "stale_timestamp",
        "status": 401,
    }
    record = Record(headers=[], value=orjson.dumps(doc))
    parsed = audit_doc(record.value)
    assert parsed == doc
    summary = refused_summary(doc, record, Scope("acme", "gh"), IDS)
    assert summary is not None
    assert (summary.id, summary.status, summary.reason, summary.outcome) == ("req-1", 401, "stale_timestamp", "refused")
    assert summary.time == datetime(2026, 12, 2, 1, 0, 0, 250_000, UTC)
    assert refused_summary({**doc, "status": 202, "outcome": "accepted"}, record, Scope("acme"), IDS) is None
    assert refused_summary({**doc, "status": 200, "outcome": "ignored"}, record, Scope("acme"), IDS) is None
    assert refused_summary({**doc, "tenant": "globex"}, record, Scope("acme"), IDS) is None
    assert refused_summary(doc, record, Scope("acme", type="x"), IDS) is None  # refusals have no type
    assert audit_doc(b"not json") is None
    assert audit_doc(b"[1]") is None
    assert audit_doc(None) is None


def test_the_latest_done_record_of_each_workflow_wins() -> None:
    pairs: list[tuple[bytes | None, bytes | None]] = [
        (b"deliver:e1", DoneRecord("deadlettered", 1.0).encode()),
        (b"notify:e1", DoneRecord("succeeded", 2.0).encode()),
        (b"deliver:e10", DoneRecord("succeeded", 2.0).encode()),  # another event whose id starts alike
        (b"deliver:e1", DoneRecord("succeeded", 3.0, "r-1").encode()),
        (b"audit:e1", DoneRecord("succeeded", 1.0).encode()),
        (b"audit:e1", None),  # tombstoned: forgotten
        (None, b"x"),
        (b"junk:e1", b"not a done record"),
    ]
    out = workflow_outcomes("g", "e1", pairs)
    assert [(w.group, w.workflow, w.outcome) for w in out] == [
        ("g", "deliver", "succeeded"),
        ("g", "notify", "succeeded"),
    ]
    assert out[0].at == datetime.fromtimestamp(3.0, UTC)


def test_variables_come_from_the_vars_extension() -> None:
    assert variables({"vars": '{"repo": "a/b"}'}) == {"repo": "a/b"}
    assert variables({"vars": "[1]"}) == {}
    assert variables({"vars": "{"}) == {}
    assert variables({}) == {}


def test_a_replayed_copy_keeps_everything_and_is_marked() -> None:
    record = envelope_record("d-1")
    record.headers.append((replay.H_REPLAY, b"an-earlier-replay"))
    copy = replay.copy_of(record, "replay-2", None)
    assert (copy.event_id, copy.topic, copy.partition, copy.key, copy.value) == ("d-1", "hookgate.acme", 1, b"k", b"{}")
    assert copy.headers[:-1] == [h for h in record.headers if h[0] != replay.H_REPLAY]
    assert copy.headers[-1] == (replay.H_REPLAY, b"replay-2")
    forced = replay.copy_of(record, "replay-3", "redrive-3")
    names = [name for name, _ in forced.headers]
    assert (H_REDRIVE, b"redrive-3") in forced.headers
    assert H_REDRIVE_WORKFLOW not in names  # an event record names no workflow: every dead-lettered one re-runs
    assert names.count(replay.H_REPLAY) == 1


def test_each_event_is_replayed_once() -> None:
    records = [envelope_record("a"), envelope_record("b"), envelope_record("a"), Record(headers=[])]
    assert [r for r in replay.first_of_each_id(records)] == [records[0], records[1]]
