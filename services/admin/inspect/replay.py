"""Replay: events written again to the partition they were read from, byte-exact, with their ids.

A replayed record keeps its value, key, partition and every header, so it carries the same CloudEvents
``id``: a consumer group whose workflows already ran the event finds their done records in its dedupe
changelog and runs nothing (a workflow that never ran it, e.g. one added since, runs it). Each record
gets one more header, ``hookgate_replay`` (one id per replay), so a delivery can be told from the original.

``force`` turns the replay into a re-drive, exactly as ``hookgate replay --dead-letter`` does
(:func:`hookgate.consumer.state.redrive.mark_redrive`): the ``hookgate_redrive`` marker makes each
consumer group run again every workflow whose run of the event was dead-lettered (or left no done record);
a workflow that succeeded still runs nothing, so a force replay never sends a successful delivery twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from hookgate.consumer.state.redrive import mark_redrive
from hookgate.core.records import attributes

H_REPLAY = "hookgate_replay"


@dataclass(frozen=True, slots=True)
class Copy:
    """One record to write again."""

    event_id: str
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def first_of_each_id(records: Iterable[object]) -> list[object]:
    """The oldest record of each event id (records in time order), so copies made by an earlier replay or a
    sender's redelivery are not replayed as events of their own."""
    seen: set[str] = set()
    out: list[object] = []
    for record in records:
        event_id = attributes(getattr(record, "headers", None) or ()).get("id")
        if event_id is None or event_id in seen:
            continue
        seen.add(event_id)
        out.append(record)
    return out


def copy_of(record: object, replay_id: str, redrive_id: str | None) -> Copy:
    """The record as it is written again: the same bytes, ``hookgate_replay`` set, the re-drive marker when
    forced (earlier markers of either kind are replaced, not doubled)."""
    raw: Sequence[tuple[str, bytes | None]] = getattr(record, "headers", None) or ()
    headers = [(name, value or b"") for name, value in raw if name != H_REPLAY]
    if redrive_id is not None:
        headers = mark_redrive(headers, redrive_id)
    headers.append((H_REPLAY, replay_id.encode()))
    return Copy(
        event_id=attributes(raw)["id"],
        topic=str(getattr(record, "topic")),  # noqa: B009 - duck-typed Kafka record
        partition=int(getattr(record, "partition")),  # noqa: B009
        key=getattr(record, "key", None),
        value=getattr(record, "value", None),
        headers=headers,
    )


async def publish(producer: AIOKafkaProducer, copies: Sequence[Copy]) -> None:
    """Write ``copies`` (in order, per partition) and return once the broker acknowledged every one."""
    pending = [
        await producer.send(c.topic, value=c.value, key=c.key, headers=c.headers, partition=c.partition) for c in copies
    ]
    await asyncio.gather(*pending)
