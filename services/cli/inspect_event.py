"""``hookgate inspect``: one event by topic, partition and offset, or by event id within a bounded scan."""

from __future__ import annotations

import contextlib
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


async def by_id(access: KafkaAccess, topic: str, event_id: str, max_scan: int, body: bool) -> list[dict[str, Any]]:
    """Records of ``topic`` whose ``ce_id`` is ``event_id``, among the newest ``max_scan`` records."""
    client = consumer(access)
    await start_client(client, access)
    wanted = RecordFilter(ids=frozenset([event_id]))
    try:
        parts = await partitions_of(client, topic)
        firsts = await client.beginning_offsets(parts)
        ends = await client.end_offsets(parts)
        per_partition = max(1, max_scan // len(parts))
        found: list[dict[str, Any]] = []
        for tp in parts:
            start = max(firsts[tp], ends[tp] - per_partition)
            async for record in read_range(client, tp, start, ends[tp]):
                if wanted.matches(record.headers):
                    found.append(record_json(record, body=body))
        return found
    finally:
        await client.stop()


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
    config: ConfigOpt = None,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Show one event (by --partition and --offset) or find events by --id; exits 1 when none is found."""
    try:
        access = load_access(config, bootstrap)
        topics = topic_names(access, [topic] if topic else [], [tenant] if tenant else [])
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
