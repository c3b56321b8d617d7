"""``hookgate replay``: re-produce events byte-exact (value, key, headers) from one topic to another.

The source range is fixed when the command starts (the end offsets of that moment), so replaying a
topic into itself terminates. Sources: a topic, a tenant's topic, or a consumer group's dead-letter
topic; a range by offsets (one partition) or by time; filters by CloudEvents type and id.
Replayed from ``--dead-letter GROUP`` they are re-drives: each keeps its ``hookgate_*`` headers and gets
the ``hookgate_redrive`` marker (one UUID per command) naming GROUP and the workflow that dead-lettered it,
and goes to GROUP's own re-drive topic (``{prefix}._redrive.{group}``, partition = its source partition
modulo the topic's partitions), which only GROUP reads: that group runs that workflow again, once, and no
other group or workflow runs (``hookgate.consumer.state.redrive``). Letters already resolved by a
successful re-drive (the group's dead-letter state topic) are skipped unless ``--include-resolved``.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from hookgate.cli.errors import CliError, exit_with
from hookgate.cli.kafka_access import (
    BootstrapOpt,
    ConfigOpt,
    KafkaAccess,
    consumer,
    ensure_topic,
    load_access,
    partitions_of,
    producer,
    read_range,
    run_async,
    start_client,
    topic_names,
)
from hookgate.cli.records import RecordFilter, other_headers, parse_time, record_json
from hookgate.core.config import ConfigError, load_model
from hookgate.core.reading import offset_ranges
from hookgate.core.topics import dead_letter_state_topic, dead_letter_topic, redrive_topic

SOURCE_TOPIC_HEADER = "hookgate_source_topic"


@dataclass(frozen=True, slots=True)
class Plan:
    """What to replay: where from, which part of it, which records, and where to."""

    source: str
    target: str | None  # None: each record's SOURCE_TOPIC_HEADER
    partition: int | None = None
    start_offset: int | None = None
    end_offset: int | None = None  # exclusive
    since_ms: int | None = None
    until_ms: int | None = None  # exclusive
    wanted: RecordFilter = field(default_factory=RecordFilter)
    limit: int | None = None
    dry_run: bool = False
    body: bool = False
    redrive: str | None = None  # re-drive id: mark each record as a re-drive of its dead-lettered workflow
    group: str | None = None  # with redrive: the consumer group whose dead letters these are
    state_topic: str | None = None  # with redrive: that group's dead-letter state (resolved letters are skipped)
    include_resolved: bool = False


@dataclass(slots=True)
class Summary:
    scanned: int = 0
    matched: int = 0
    produced: int = 0
    resolved: int = 0  # dead letters skipped: already resolved
    targets: dict[str, int] = field(default_factory=dict)


def dead_letter_source(access: KafkaAccess, group: str) -> str:
    """The dead-letter topic of consumer group ``group``.

    When the config file is that group's consumer config (its ``consumer.group_id`` is ``group``), its
    ``consumer.dead_letter.topic`` counts; otherwise the group's default name.
    """
    configured: str | None = None
    section = access.document.get("consumer")
    if section is not None:
        # Imported here: the consumer package is not worth loading for every ``hookgate`` command.
        from hookgate.consumer.config import ConsumerSettings

        try:
            settings = load_model(ConsumerSettings, section, f"{access.source} (consumer)")
        except ConfigError as exc:
            raise CliError(str(exc)) from None
        if settings.group_id == group:
            configured = settings.dead_letter.topic
    return dead_letter_topic(access.settings.topics, group, configured)


def target_of(plan: Plan, headers: list[tuple[str, bytes]]) -> str:
    if plan.target is not None:
        return plan.target
    for name, value in headers:
        if name == SOURCE_TOPIC_HEADER and value:
            return value.decode()
    raise CliError(f"a record has no {SOURCE_TOPIC_HEADER} header: give --to-topic or --to-tenant", 1)


async def _ranges(client: AIOKafkaConsumer, plan: Plan) -> dict[TopicPartition, tuple[int, int]]:
    parts = await partitions_of(client, plan.source)
    if plan.partition is not None:
        tp = TopicPartition(plan.source, plan.partition)
        if tp not in parts:
            raise CliError(f"topic {plan.source!r} has partitions 0..{len(parts) - 1}, not {plan.partition}", 1)
        parts = [tp]
    out: dict[TopicPartition, tuple[int, int]] = {}
    for tp, (start, end) in (await offset_ranges(client, parts, plan.since_ms, plan.until_ms)).items():
        if plan.start_offset is not None:
            start = max(start, plan.start_offset)
        if plan.end_offset is not None:
            end = min(end, plan.end_offset)
        if start < end:
            out[tp] = (start, end)
    return out


async def read_resolutions(client: AIOKafkaConsumer, topic: str) -> dict[str, Any]:
    """The dead-letter state topic as it is now: key ``{workflow}:{event id}`` -> its latest Resolution.

    Empty when the topic does not exist yet (no consumer of the group has run since resolutions exist).
    """
    from hookgate.consumer.state.deadletter import Resolution

    try:
        parts = await partitions_of(client, topic)
    except CliError:
        return {}
    firsts = await client.beginning_offsets(parts)
    ends = await client.end_offsets(parts)
    out: dict[str, Any] = {}
    for tp in parts:
        async with contextlib.aclosing(read_range(client, tp, firsts[tp], ends[tp])) as records:
            async for record in records:
                if record.key is None:
                    continue
                key = record.key.decode(errors="replace")
                resolution = Resolution.decode(record.value)
                if resolution is None:
                    out.pop(key, None)
                else:
                    out[key] = resolution
    return out


async def replay_events(access: KafkaAccess, plan: Plan) -> Summary:
    """Copy the planned records; returns once the broker acknowledged every one (acks=all)."""
    # Imported here: the consumer package (its SDK) is not worth loading for every ``hookgate`` command.
    from hookgate.consumer.state.deadletter import H_PARTITION, is_resolved, letter_of
    from hookgate.consumer.state.redrive import mark_redrive

    client = consumer(access)
    await start_client(client, access)
    out = producer(access) if not plan.dry_run else None
    summary = Summary()
    try:
        redrive_target: str | None = None
        redrive_parts = 0
        if plan.redrive is not None and plan.target is None and plan.group is not None:
            redrive_target = redrive_topic(access.settings.topics, plan.group)
            try:
                redrive_parts = len(await partitions_of(client, redrive_target))
            except CliError:
                if not plan.dry_run:  # a dry run only names the target
                    raise CliError(
                        f"topic {redrive_target!r} does not exist: start the group's consumer once (it creates its "
                        "re-drive topic with the partitions re-drives need), or give --to-topic",
                        1,
                    ) from None
        ranges = await _ranges(client, plan)
        resolutions: dict[str, Any] = {}
        if plan.state_topic is not None and not plan.include_resolved:
            # A client of its own: an assigned consumer refreshes the metadata of its assigned topics only,
            # and this one has the ranges' topics to find yet.
            reader = consumer(access)
            await start_client(reader, access)
            try:
                resolutions = await read_resolutions(reader, plan.state_topic)
            finally:
                await reader.stop()
        if out is not None:
            await start_client(out, access)
        pending: list[Any] = []
        created: set[str] = set()
        for tp, (start, end) in ranges.items():
            if plan.limit is not None and summary.matched >= plan.limit:
                break
            async with contextlib.aclosing(read_range(client, tp, start, end)) as records:
                async for record in records:
                    summary.scanned += 1
                    headers = list(record.headers or ())
                    if not plan.wanted.matches(headers):
                        continue
                    if resolutions:
                        letter = letter_of(headers)
                        if letter is not None and is_resolved(letter, resolutions.get(letter.key)):
                            summary.resolved += 1
                            continue
                    if plan.limit is not None and summary.matched >= plan.limit:
                        break
                    summary.matched += 1
                    partition: int | None = None
                    if redrive_target is not None:
                        target = redrive_target
                        source = next((v for k, v in headers if k == H_PARTITION and v), b"")
                        # The member reading re-drive partition q holds the dedupe state of source partitions
                        # p with p % partitions == q (consumer/app.py): put the re-drive there.
                        partition = int(source) % redrive_parts if redrive_parts and source.isdigit() else None
                    else:
                        target = target_of(plan, headers)
                    summary.targets[target] = summary.targets.get(target, 0) + 1
                    if plan.redrive is not None:
                        headers = mark_redrive(headers, plan.redrive, group=plan.group)
                    if out is None:
                        doc = {**record_json(record, body=plan.body), "replay_to": target}
                        if plan.redrive is not None:
                            doc["headers"] = other_headers(headers)  # as they would be written
                        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
                        continue
                    if target not in created:
                        await ensure_topic(access, target)
                        created.add(target)
                    pending.append(
                        await out.send(target, value=record.value, key=record.key, headers=headers, partition=partition)
                    )
        for fut in pending:
            await fut
            summary.produced += 1
        sys.stdout.buffer.flush()
    finally:
        await client.stop()
        if out is not None:
            await out.stop()
    return summary


def replay(
    from_topic: Annotated[str | None, typer.Option("--from-topic", help="Source topic")] = None,
    from_tenant: Annotated[str | None, typer.Option("--from-tenant", help="Or a tenant's event topic")] = None,
    dead_letter: Annotated[
        str | None,
        typer.Option(
            "--dead-letter",
            help="Or the dead-letter topic of this consumer group (the config's consumer.dead_letter.topic for"
            " its group_id; re-drive: re-runs the failed workflow)",
        ),
    ] = None,
    to_topic: Annotated[str | None, typer.Option("--to-topic", help="Target topic")] = None,
    to_tenant: Annotated[str | None, typer.Option("--to-tenant", help="Or a tenant's event topic")] = None,
    partition: Annotated[int | None, typer.Option("--partition", "-p", min=0, help="Only this partition")] = None,
    start_offset: Annotated[int | None, typer.Option("--start-offset", min=0, help="First offset (inclusive)")] = None,
    end_offset: Annotated[int | None, typer.Option("--end-offset", min=0, help="Last offset (exclusive)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this time (ISO 8601 or unix ms)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this time (ISO 8601 or unix ms)")] = None,
    event_type: Annotated[list[str] | None, typer.Option("--type", help="Only this type (x.* = prefix)")] = None,
    event_id: Annotated[list[str] | None, typer.Option("--id", help="Only this event id (repeatable)")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many events")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be replayed; write nothing")] = False,
    include_resolved: Annotated[
        bool,
        typer.Option(
            "--include-resolved", help="With --dead-letter: also re-drive letters a successful re-drive resolved"
        ),
    ] = False,
    body: Annotated[bool, typer.Option("--body", help="With --dry-run: print bodies too")] = False,
    config: ConfigOpt = None,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Re-produce events (value, key and headers byte-exact) from a topic or dead letters to a topic."""
    try:
        access = load_access(config, bootstrap)
        sources = topic_names(access, [from_topic] if from_topic else [], [from_tenant] if from_tenant else [])
        if dead_letter:
            sources.append(dead_letter_source(access, dead_letter))
        if len(sources) != 1:
            raise CliError("name exactly one source: --from-topic, --from-tenant or --dead-letter")
        targets = topic_names(access, [to_topic] if to_topic else [], [to_tenant] if to_tenant else [])
        if len(targets) > 1:
            raise CliError("name at most one target: --to-topic or --to-tenant")
        if not targets and not dead_letter:
            raise CliError("name the target: --to-topic or --to-tenant (only dead letters know where they came from)")
        if include_resolved and not dead_letter:
            raise CliError("--include-resolved goes with --dead-letter")
        if (start_offset is not None or end_offset is not None) and partition is None:
            raise CliError("offsets are per partition: add --partition with --start-offset/--end-offset")
        try:
            since_ms = parse_time(since) if since else None
            until_ms = parse_time(until) if until else None
        except ValueError as exc:
            raise CliError(f"--since/--until: {exc}") from None
        plan = Plan(
            source=sources[0],
            target=targets[0] if targets else None,
            partition=partition,
            start_offset=start_offset,
            end_offset=end_offset,
            since_ms=since_ms,
            until_ms=until_ms,
            wanted=RecordFilter(types=tuple(event_type or ()), ids=frozenset(event_id or ())),
            limit=limit,
            dry_run=dry_run,
            body=body,
            redrive=str(uuid.uuid4()) if dead_letter else None,
            group=dead_letter or None,
            state_topic=dead_letter_state_topic(access.settings.topics, dead_letter) if dead_letter else None,
            include_resolved=include_resolved,
        )
        summary = run_async(replay_events(access, plan))
    except CliError as exc:
        raise exit_with(exc) from None
    verb = "would replay" if dry_run else "replayed"
    where = ", ".join(f"{n} to {t}" for t, n in summary.targets.items()) or "nothing"
    redrive = f"; re-drive {plan.redrive}" if plan.redrive is not None and summary.matched else ""
    skipped = f"; skipped {summary.resolved} resolved" if summary.resolved else ""
    typer.echo(
        f"replay: scanned {summary.scanned} records of {plan.source}; {verb} {summary.matched}: {where}"
        f"{skipped}{redrive}",
        err=True,
    )
