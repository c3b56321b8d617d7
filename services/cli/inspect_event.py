"""``hookgate inspect``: one event by topic, partition and offset, or by event id within a bounded scan.

With ``--id X --group G``: what consumer group G did with event X, per workflow, from the group's own
records: its dedupe changelog (the latest outcome and attempt count of each (workflow, event) run), its
dead-letter topic (each letter, its error and attempts), its re-drive topic (re-drives sent) and its
dead-letter state topic (resolved letters). With a consumer config (``-c``) of that group, its YAML
workflows are listed too, and with ``--topic``/``--tenant`` the event itself is found and each YAML
workflow's match evaluated on it (``matched``: true/false; null when it cannot be told).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
import typer
from aiokafka import TopicPartition

from hookgate.cli.errors import CliError, exit_with
from hookgate.cli.kafka_access import (
    BootstrapOpt,
    ConfigOpt,
    KafkaAccess,
    consumer,
    load_access,
    partitions_of,
    read_range,
    run_async,
    start_client,
    topic_names,
)
from hookgate.cli.records import RecordFilter, record_json
from hookgate.core.config import ConfigError, load_model
from hookgate.core.envelope import Envelope, EnvelopeError
from hookgate.core.topics import dead_letter_state_topic, dead_letter_topic, dedupe_topic, redrive_topic


async def by_offset(access: KafkaAccess, topic: str, partition: int, offset: int, body: bool) -> dict[str, Any]:
    client = consumer(access)
    await start_client(client, access)
    try:
        parts = await partitions_of(client, topic)
        tp = TopicPartition(topic, partition)
        if tp not in parts:
            raise CliError(f"topic {topic!r} has partitions 0..{len(parts) - 1}, not {partition}", code=1)
        first = (await client.beginning_offsets([tp]))[tp]
        end = (await client.end_offsets([tp]))[tp]
        if not first <= offset < end:
            raise CliError(f"no record at {topic}:{partition}@{offset} (the partition holds {first}..{end - 1})", 1)
        async with contextlib.aclosing(read_range(client, tp, offset, offset + 1)) as records:
            async for record in records:
                if record.offset == offset:
                    return record_json(record, body=body)
        raise CliError(f"no record at {topic}:{partition}@{offset} (compacted away or a transaction marker)", 1)
    finally:
        await client.stop()


async def by_id(
    access: KafkaAccess, topic: str, event_id: str, max_scan: int, body: bool, *, raw: bool = False
) -> list[Any]:
    """Records of ``topic`` whose ``ce_id`` is ``event_id``, among the newest ``max_scan`` records.

    As JSON documents; with ``raw``, as :class:`Envelope` objects (records that are not events are left out).
    """
    client = consumer(access)
    await start_client(client, access)
    wanted = RecordFilter(ids=frozenset([event_id]))
    try:
        parts = await partitions_of(client, topic)
        firsts = await client.beginning_offsets(parts)
        ends = await client.end_offsets(parts)
        per_partition = max(1, max_scan // len(parts))
        found: list[Any] = []
        for tp in parts:
            start = max(firsts[tp], ends[tp] - per_partition)
            async for record in read_range(client, tp, start, ends[tp]):
                if not wanted.matches(record.headers):
                    continue
                if not raw:
                    found.append(record_json(record, body=body))
                    continue
                try:
                    found.append(Envelope.from_record(record.headers, record.value))
                except EnvelopeError:
                    continue
        return found
    finally:
        await client.stop()


async def _scan(access: KafkaAccess, topic: str) -> AsyncIterator[Any]:
    """Every record of ``topic`` as it is now (nothing when the topic does not exist).

    A client per topic: an assigned consumer refreshes the metadata of its assigned topics only.
    """
    client = consumer(access)
    await start_client(client, access)
    try:
        try:
            parts = await partitions_of(client, topic)
        except CliError:
            return
        firsts = await client.beginning_offsets(parts)
        ends = await client.end_offsets(parts)
        for tp in parts:
            async with contextlib.aclosing(read_range(client, tp, firsts[tp], ends[tp])) as records:
                async for record in records:
                    yield record
    finally:
        await client.stop()


def _group_topics(access: KafkaAccess, group: str) -> tuple[str, str]:
    """The group's dedupe changelog and dead-letter topic: the config's names when it is that group's config."""
    dedupe, dead = None, None
    section = access.document.get("consumer")
    if isinstance(section, dict) and section.get("group_id") == group:
        dedupe = (section.get("dedupe") or {}).get("topic")
        dead = (section.get("dead_letter") or {}).get("topic")
    ts = access.settings.topics
    return dedupe_topic(ts, group, dedupe), dead_letter_topic(ts, group, dead)


def _yaml_workflows(access: KafkaAccess, group: str) -> list[Any]:
    """The config's YAML workflows when it is ``group``'s consumer config (those that load; secrets may be absent)."""
    from hookgate.consumer.workflows.subscriptions import WorkflowConfig

    section = access.document.get("consumer")
    if not isinstance(section, dict) or section.get("group_id") != group:
        return []
    found = []
    for i, doc in enumerate(access.document.get("workflows") or []):
        try:
            found.append(load_model(WorkflowConfig, doc, f"{access.source} (workflows[{i}])"))
        except ConfigError:
            continue
    return found


async def group_outcome(
    access: KafkaAccess, group: str, event_id: str, source_topic: str | None, max_scan: int
) -> dict[str, Any]:
    """What ``group`` did with ``event_id``, per workflow (see the module docstring)."""
    from hookgate.consumer.state.deadletter import (
        H_ATTEMPTS,
        H_ERROR,
        H_FAILED_AT,
        H_REDRIVE,
        H_STATUS,
        H_WORKFLOW,
        Resolution,
        is_resolved,
        letter_of,
    )
    from hookgate.consumer.state.dedupe import SUCCEEDED, DoneRecord
    from hookgate.consumer.workflows.event import event_of

    dedupe, dead = _group_topics(access, group)
    ts = access.settings.topics
    suffix = f":{event_id}"
    flows: dict[str, dict[str, Any]] = {}

    def flow(name: str) -> dict[str, Any]:
        return flows.setdefault(
            name,
            {
                "workflow": name,
                "matched": None,
                "outcome": None,
                "attempts": None,
                "succeeded": False,
                "dead_lettered": 0,
                "dead_letters": [],
                "redriven": [],
                "resolved": False,
            },
        )

    async for rec in _scan(access, dedupe):
        key = rec.key.decode(errors="replace") if rec.key is not None else ""
        if not key.endswith(suffix):
            continue
        entry = flow(key[: -len(suffix)])
        done = DoneRecord.decode(rec.value) if rec.value is not None else None
        entry["outcome"] = done.outcome if done is not None else None
        entry["attempts"] = done.attempts if done is not None else None
        entry["succeeded"] = done is not None and done.outcome == SUCCEEDED
        if done is not None and done.redrive is not None and done.redrive not in entry["redriven"]:
            entry["redriven"].append(done.redrive)
    letters: dict[str, list[Any]] = {}
    async for rec in _scan(access, dead):
        letter = letter_of(rec.headers or ())
        if letter is None or letter.event_id != event_id:
            continue
        headers = {k: v.decode(errors="replace") for k, v in rec.headers or () if v is not None}
        entry = flow(letter.workflow)
        entry["dead_lettered"] += 1
        entry["dead_letters"].append(
            {
                "partition": rec.partition,
                "offset": rec.offset,
                "error": headers.get(H_ERROR),
                "status": int(headers[H_STATUS]) if headers.get(H_STATUS, "").isdigit() else None,
                "attempts": int(headers[H_ATTEMPTS]) if headers.get(H_ATTEMPTS, "").isdigit() else None,
                "failed_at": int(headers[H_FAILED_AT]) if headers.get(H_FAILED_AT, "").isdigit() else None,
            }
        )
        letters.setdefault(letter.workflow, []).append(letter)
    async for rec in _scan(access, redrive_topic(ts, group)):
        headers = {k: v.decode(errors="replace") for k, v in rec.headers or () if v is not None}
        if headers.get("ce_id") == event_id and H_REDRIVE in headers and H_WORKFLOW in headers:
            redriven = flow(headers[H_WORKFLOW])["redriven"]
            if headers[H_REDRIVE] not in redriven:
                redriven.append(headers[H_REDRIVE])
    async for rec in _scan(access, dead_letter_state_topic(ts, group)):
        key = rec.key.decode(errors="replace") if rec.key is not None else ""
        if key.endswith(suffix) and key[: -len(suffix)] in letters:
            resolution = Resolution.decode(rec.value)
            name = key[: -len(suffix)]
            flows[name]["resolved"] = all(is_resolved(le, resolution) for le in letters[name])
    event: Envelope | None = None
    if source_topic is not None:
        for doc in await by_id(access, source_topic, event_id, max_scan, body=True, raw=True):
            event = doc
            break
    for wf in _yaml_workflows(access, group):
        entry = flow(wf.name)
        if event is not None:
            entry["matched"] = wf.predicate().test(event_of(event))
        elif entry["outcome"] is not None or entry["dead_lettered"]:
            entry["matched"] = True
    for entry in flows.values():
        if entry["matched"] is None and (entry["outcome"] is not None or entry["dead_lettered"]):
            entry["matched"] = True  # the group recorded a run: it matched
    return {"event_id": event_id, "group": group, "workflows": sorted(flows.values(), key=lambda e: e["workflow"])}


def inspect_event(
    topic: Annotated[str | None, typer.Option("--topic", help="Topic name")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Or the tenant whose topic to read")] = None,
    partition: Annotated[int | None, typer.Option("--partition", "-p", min=0)] = None,
    offset: Annotated[int | None, typer.Option("--offset", "-o", min=0)] = None,
    event_id: Annotated[str | None, typer.Option("--id", help="Search for this CloudEvents id")] = None,
    max_scan: Annotated[
        int, typer.Option("--max-scan", min=1, help="With --id: scan at most the newest N records")
    ] = 100_000,
    body: Annotated[bool, typer.Option("--body/--no-body", help="Include the body")] = True,
    group: Annotated[
        str | None,
        typer.Option("--group", "-g", help="With --id: what this consumer group did with the event, per workflow"),
    ] = None,
    config: ConfigOpt = None,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Show one event (by --partition and --offset) or find events by --id; exits 1 when none is found.

    With --id and --group: each workflow's outcome for that event in that consumer group (matched,
    attempts, succeeded, dead-lettered, re-driven, resolved); exits 1 when the group has no record of it.
    """
    try:
        access = load_access(config, bootstrap)
        topics = topic_names(access, [topic] if topic else [], [tenant] if tenant else [])
        if group is not None:
            if event_id is None or partition is not None or offset is not None:
                raise CliError("--group goes with --id (not --partition/--offset)")
            if len(topics) > 1:
                raise CliError("name at most one of --topic or --tenant")
            report = run_async(group_outcome(access, group, event_id, topics[0] if topics else None, max_scan))
            typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
            if not any(w["outcome"] is not None or w["dead_lettered"] or w["matched"] for w in report["workflows"]):
                raise CliError(f"consumer group {group!r} has no record of event {event_id!r}", 1)
            return
        if len(topics) != 1:
            raise CliError("name exactly one of --topic or --tenant")
        by_position = partition is not None or offset is not None
        if by_position == (event_id is not None):
            raise CliError("give either --partition and --offset, or --id")
        if by_position:
            if partition is None or offset is None:
                raise CliError("--partition and --offset go together")
            doc = run_async(by_offset(access, topics[0], partition, offset, body))
            typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
            return
        assert event_id is not None
        found = run_async(by_id(access, topics[0], event_id, max_scan, body))
        if not found:
            raise CliError(f"no event with id {event_id!r} among the newest {max_scan} records of {topics[0]}", 1)
        for doc in found:
            typer.echo(orjson.dumps(doc).decode())
    except CliError as exc:
        raise exit_with(exc) from None
