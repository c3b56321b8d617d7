"""The dead-letter topic: where an event goes when a workflow gave up on it, and which letters are resolved.

The record is the original one, value byte-exact and headers kept, plus ``hookgate_*`` headers saying
which workflow failed, how (``hookgate_error``, and a handler's traceback in ``hookgate_error_traceback``,
at most :data:`~hookgate.consumer.engine.failures.TRACEBACK_LIMIT` characters), after how many attempts,
and where the event came from, so an operator can inspect it and re-drive it. A re-drive
(``hookgate replay --dead-letter``) sends it to the group's re-drive topic marked with
``hookgate_redrive``, ``hookgate_redrive_workflow`` and ``hookgate_redrive_group`` (see ``redrive.py``);
if the re-run fails again, the new dead letter drops that marker, so re-driving it is a new re-drive.

Resolution: when a re-run succeeds, the consumer writes a :class:`Resolution` to the group's compacted
dead-letter state topic (``{prefix}._deadletter_state.{group}``), key ``{workflow}:{event id}``, before the
re-driven record's offset may be committed. A dead letter is resolved when its key has a resolution
written at or after the letter's ``hookgate_failed_at`` (:func:`is_resolved`): so every letter of that
(workflow, event) up to the successful re-run is resolved, and a later letter of the same pair (the event
failed again, much later) is not. ``replay --dead-letter`` skips resolved letters; ``ledger.py`` counts
the waiting ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from hookgate.consumer.engine.failures import TRACEBACK_LIMIT
from hookgate.consumer.workflows.workflow import ActionResult

H_WORKFLOW = "hookgate_workflow"
H_ERROR = "hookgate_error"
H_STATUS = "hookgate_status"
H_ATTEMPTS = "hookgate_attempts"
H_TOPIC = "hookgate_source_topic"
H_PARTITION = "hookgate_source_partition"
H_OFFSET = "hookgate_source_offset"
H_FAILED_AT = "hookgate_failed_at"
H_REDRIVE = "hookgate_redrive"  # set by a re-drive: its id (one UUID per replay command)
H_REDRIVE_WORKFLOW = "hookgate_redrive_workflow"  # set by a re-drive: the workflow it re-runs
H_REDRIVE_GROUP = "hookgate_redrive_group"  # set by a re-drive: the consumer group it is for
H_TRACEBACK = "hookgate_error_traceback"  # a handler's traceback (bounded)
_OURS = frozenset(
    (
        H_WORKFLOW,
        H_ERROR,
        H_STATUS,
        H_ATTEMPTS,
        H_TOPIC,
        H_PARTITION,
        H_OFFSET,
        H_FAILED_AT,
        H_REDRIVE,
        H_REDRIVE_WORKFLOW,
        H_REDRIVE_GROUP,
        H_TRACEBACK,
    )
)


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], *, workflow: str, result: ActionResult, attempts: int, failed_at: float
) -> list[tuple[str, bytes]]:
    """The record's headers (minus earlier ``hookgate_*`` ones and a re-drive marker) plus ours."""
    headers = [(k, v) for k, v in record.headers or () if k not in _OURS]
    headers += [
        (H_WORKFLOW, workflow.encode()),
        (H_ERROR, (result.error or "failed").encode()),
        (H_ATTEMPTS, str(attempts).encode()),
        (H_TOPIC, record.topic.encode()),
        (H_PARTITION, str(record.partition).encode()),
        (H_OFFSET, str(record.offset).encode()),
        (H_FAILED_AT, str(int(failed_at * 1000)).encode()),
    ]
    if result.status is not None:
        headers.append((H_STATUS, str(result.status).encode()))
    if result.traceback:
        headers.append((H_TRACEBACK, result.traceback[-TRACEBACK_LIMIT:].encode("utf-8", errors="replace")))
    return headers


def letter_key(workflow: str, event_id: str) -> str:
    """The dead-letter state key of a (workflow, event): the dedupe key, so both read alike."""
    return f"{workflow}:{event_id}"


@dataclass(frozen=True, slots=True)
class Letter:
    """What resolution needs of a dead letter: its workflow, event id and when it was written (ms)."""

    workflow: str
    event_id: str
    failed_at_ms: int

    @property
    def key(self) -> str:
        return letter_key(self.workflow, self.event_id)


def letter_of(headers: Iterable[tuple[str, bytes | None]]) -> Letter | None:
    """The dead letter's identity from its headers; None for a record that is not a hookgate dead letter."""
    found: dict[str, bytes] = {k: v for k, v in headers if v is not None and k in (H_WORKFLOW, H_FAILED_AT, "ce_id")}
    try:
        workflow, event_id = found[H_WORKFLOW].decode(), found["ce_id"].decode()
        failed_at = int(found.get(H_FAILED_AT, b"0"))
    except (KeyError, UnicodeDecodeError, ValueError):
        return None
    return Letter(workflow, event_id, failed_at)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The dead-letter state value: a re-run of the key's workflow succeeded at ``at_ms``, by ``redrive``."""

    at_ms: int
    redrive: str | None = None

    def encode(self) -> bytes:
        return orjson.dumps({"resolved_at": self.at_ms, "redrive": self.redrive})

    @classmethod
    def decode(cls, raw: bytes | None) -> Resolution | None:
        """None for a tombstone or a value that is not a resolution (ignored, not fatal)."""
        if not raw:
            return None
        try:
            doc = orjson.loads(raw)
            at = int(doc["resolved_at"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        redrive = doc.get("redrive")
        return cls(at, redrive if isinstance(redrive, str) else None)


def is_resolved(letter: Letter, resolution: Resolution | None) -> bool:
    """Whether a successful re-run of the letter's (workflow, event) came at or after the letter."""
    return resolution is not None and resolution.at_ms >= letter.failed_at_ms


class DeadLetterSink(Protocol):
    """Where the engine sends an event a workflow gave up on."""

    @property
    def topic(self) -> str:
        """Where the dead letters go (for logs)."""
        ...

    async def publish(
        self, record: ConsumerRecord[bytes, bytes], *, workflow: str, result: ActionResult, attempts: int
    ) -> None:
        """Keep ``record`` as a dead letter of ``workflow``; returns once it is durable, raises otherwise."""
        ...

    async def resolve(self, workflow: str, event_id: str, redrive: str | None) -> None:
        """Mark the dead letters of (``workflow``, ``event_id``) resolved; returns once durable, raises otherwise."""
        ...


class KafkaDeadLetters:
    """The dead-letter topic, written with the shared idempotent ``acks=all`` producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, state_topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._state_topic = state_topic

    @property
    def topic(self) -> str:
        return self._topic

    async def publish(
        self, record: ConsumerRecord[bytes, bytes], *, workflow: str, result: ActionResult, attempts: int
    ) -> None:
        """Returns once the broker acknowledged the record; raises a KafkaError otherwise."""
        headers = dead_letter_headers(
            record, workflow=workflow, result=result, attempts=attempts, failed_at=time.time()
        )
        await self._producer.send_and_wait(self._topic, value=record.value, key=record.key, headers=headers)

    async def resolve(self, workflow: str, event_id: str, redrive: str | None) -> None:
        """Write the resolution (compacted topic, key ``{workflow}:{event id}``); raises a KafkaError otherwise."""
        value = Resolution(int(time.time() * 1000), redrive).encode()
        await self._producer.send_and_wait(self._state_topic, value=value, key=letter_key(workflow, event_id).encode())
