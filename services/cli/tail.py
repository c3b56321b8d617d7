"""``hookgate tail``: follow tenant topics (or a pattern) and print each event as a JSON line."""

from __future__ import annotations

import re
import sys
import time
from typing import Annotated

import orjson
import typer

from hookgate.cli.errors import CliError, exit_with
from hookgate.cli.kafka_access import (
    BootstrapOpt,
    ConfigOpt,
    KafkaAccess,
    consumer,
    load_access,
    run_async,
    start_client,
    topic_names,
)
from hookgate.cli.records import RecordFilter, record_json


async def follow(
    access: KafkaAccess,
    *,
    topics: list[str],
    pattern: str | None,
    from_beginning: bool,
    body: bool,
    wanted: RecordFilter,
    count: int | None,
    idle_timeout: float | None,
) -> int:
    """Print matching records until ``count`` were printed, ``idle_timeout`` passed quietly, or Ctrl-C."""
    client = consumer(
        access,
        auto_offset_reset="earliest" if from_beginning else "latest",
        metadata_max_age_ms=5000,  # pick up new tenant topics of a pattern quickly
    )
    if pattern is not None:
        client.subscribe(pattern=pattern)
    else:
        client.subscribe(topics=topics)
    await start_client(client, access)
    printed = 0
    last_seen = time.monotonic()
    try:
        while count is None or printed < count:
            batches = await client.getmany(timeout_ms=500)
            if not batches:
                if idle_timeout is not None and time.monotonic() - last_seen > idle_timeout:
                    break
                continue
            last_seen = time.monotonic()
            for records in batches.values():
                for record in records:
                    if not wanted.matches(record.headers):
                        continue
                    sys.stdout.buffer.write(orjson.dumps(record_json(record, body=body)) + b"\n")
                    printed += 1
                    if count is not None and printed >= count:
                        break
            sys.stdout.buffer.flush()
    finally:
        await client.stop()
    return printed


def tail(
    tenant: Annotated[list[str] | None, typer.Option("--tenant", "-t", help="A tenant's event topic")] = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", help="A topic by name")] = None,
    pattern: Annotated[
        str | None, typer.Option("--pattern", help=r"Regex over topic names, e.g. '^hookgate\.'")
    ] = None,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest record")] = False,
    body: Annotated[bool, typer.Option("--body", help="Include the body (text, or body_base64)")] = False,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this CloudEvents type (x.* = prefix)")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Exit after this many events")] = None,
    idle_timeout: Annotated[
        float | None, typer.Option("--idle-timeout", min=0, help="Exit after this many quiet seconds")
    ] = None,
    config: ConfigOpt = None,
    bootstrap: BootstrapOpt = None,
) -> None:
    """Follow tenant topics and print events as JSON lines: attributes, key, partition/offset (and body)."""
    try:
        access = load_access(config, bootstrap)
        topics = topic_names(access, topic or [], tenant or [])
        if bool(topics) == (pattern is not None):
            raise CliError("name what to follow: --tenant/--topic (repeatable) or --pattern, not both")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise CliError(f"--pattern is not a valid regular expression: {exc}") from None
        wanted = RecordFilter(types=tuple(event_type or ()))
        run_async(
            follow(
                access,
                topics=topics,
                pattern=pattern,
                from_beginning=from_beginning,
                body=body,
                wanted=wanted,
                count=count,
                idle_timeout=idle_timeout,
            )
        )
    except CliError as exc:
        raise exit_with(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
