"""Reading a bounded range of a topic with a group-less consumer: the CLI tools and the admin inspector.

Both read records by offset range (located by time with ``offsets_for_times``) and never commit. A
range may have holes (compacted records, transaction markers), so progress is the consumer's position,
not the offsets of the records seen; a partition that stops moving short of the range's end raises
:class:`PartitionStalled` instead of spinning.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

STALL_FETCHES = 30  # one-second fetches without progress before giving up on a partition


class UnknownTopic(LookupError):
    """The topic does not exist (no partitions in the cluster's metadata)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic!r} does not exist")
        self.topic = topic


class PartitionStalled(RuntimeError):
    """A partition's position stopped moving before the end of the range asked for."""

    def __init__(self, tp: TopicPartition, position: int, end: int) -> None:
        super().__init__(f"{tp.topic}:{tp.partition} stopped at offset {position} before {end}")
        self.tp, self.position, self.end = tp, position, end


async def partitions_of(client: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, sorted; :class:`UnknownTopic` when it does not exist."""
    parts = client.partitions_for_topic(topic)
    if not parts:
        # A topic this client has not read yet: aiokafka (0.14) has no public call that refreshes the metadata
        # partitions_for_topic reads (and a client that has assigned partitions refreshes only their topics),
        # so ask the cluster for all of it, as topics() does.
        cluster = await client._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
    if not parts:
        raise UnknownTopic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def read_range(
    client: AIOKafkaConsumer,
    tp: TopicPartition,
    start: int,
    end: int,
    *,
    fetch_ms: int = 1000,
    stall_fetches: int = STALL_FETCHES,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """The records of ``tp`` with offsets in [start, end), in order (compacted or aborted offsets are missing).

    Raises :class:`PartitionStalled` when the partition stops short of ``end`` (no progress for
    ``stall_fetches`` fetches of up to ``fetch_ms``). Use it with ``contextlib.aclosing`` when the loop
    may stop early.
    """
    client.assign([tp])
    client.seek(tp, start)
    position, idle = start, 0
    while position < end:
        batch = await client.getmany(tp, timeout_ms=fetch_ms, max_records=500)
        records = batch.get(tp, [])
        if not records:
            # Transaction markers and compacted offsets move the position without a record.
            moved = await client.position(tp)
            idle = idle + 1 if moved <= position else 0
            if idle > stall_fetches:
                raise PartitionStalled(tp, position, end)
            position = max(position, moved)
            continue
        idle = 0
        for record in records:
            if record.offset >= end:
                return
            yield record
        position = records[-1].offset + 1


async def offset_ranges(
    client: AIOKafkaConsumer,
    parts: list[TopicPartition],
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> dict[TopicPartition, tuple[int, int]]:
    """Each partition's offsets [start, end) of the records stamped in [``since_ms``, ``until_ms``).

    Located with ``offsets_for_times`` (the first offset whose timestamp is at or after the time), inside
    the partition's current beginning and end; None on either side means that end of the partition. The
    end is fixed now, so a reader that writes back into the same topic still stops. Empty ranges are left out.
    """
    if not parts:
        return {}
    firsts = await client.beginning_offsets(parts)
    ends = await client.end_offsets(parts)
    since = await client.offsets_for_times(dict.fromkeys(parts, since_ms)) if since_ms is not None else {}
    until = await client.offsets_for_times(dict.fromkeys(parts, until_ms)) if until_ms is not None else {}
    out: dict[TopicPartition, tuple[int, int]] = {}
    for tp in parts:
        start, end = firsts[tp], ends[tp]
        if tp in since:
            start = max(start, since[tp].offset if since[tp] is not None else end)
        if tp in until and until[tp] is not None:
            end = min(end, until[tp].offset)
        if start < end:
            out[tp] = (start, end)
    return out


async def read_ranges(
    client: AIOKafkaConsumer,
    ranges: Mapping[TopicPartition, tuple[int, int]],
    *,
    fetch_ms: int = 1000,
    stall_fetches: int = STALL_FETCHES,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """The records of several ranges [start, end) read together: one assignment, one fetch for all of them.

    Each partition's records come in order; partitions interleave. Reading partitions one by one costs an
    assignment change (and its metadata and fetch round trips) per partition; this costs one. Raises
    :class:`PartitionStalled` when no partition moved for ``stall_fetches`` fetches while some are short
    of their end. Use it with ``contextlib.aclosing`` when the loop may stop early.
    """
    todo = {tp: (start, end) for tp, (start, end) in ranges.items() if start < end}
    if not todo:
        return
    client.assign(list(todo))
    client.resume(*todo)  # a partition an earlier read paused
    for tp, (start, _) in todo.items():
        client.seek(tp, start)
    positions = {tp: start for tp, (start, _) in todo.items()}
    idle = 0
    while todo:
        batch = await client.getmany(*todo, timeout_ms=fetch_ms, max_records=500)
        moved = False
        for tp, records in batch.items():
            if tp not in todo:
                continue
            end = todo[tp][1]
            for record in records:
                if record.offset >= end:
                    break
                yield record
            if records:
                positions[tp] = records[-1].offset + 1
                moved = True
        for tp in list(todo):
            if positions[tp] < todo[tp][1] and tp not in batch:
                # Transaction markers and compacted offsets move the position without a record.
                position = await client.position(tp)
                if position > positions[tp]:
                    positions[tp], moved = position, True
            if positions[tp] >= todo[tp][1]:
                del todo[tp]
                client.pause(tp)
        idle = 0 if moved else idle + 1
        if idle > stall_fetches and todo:
            tp = next(iter(todo))
            raise PartitionStalled(tp, positions[tp], todo[tp][1])
