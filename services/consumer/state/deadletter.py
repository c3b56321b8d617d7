"""The dead-letter topic: where an event goes when a workflow gave up on it.

The record is the original one, value byte-exact and headers kept, plus ``hookgate_*`` headers saying
which workflow failed, how, after how many attempts, and where the event came from, so an operator can
inspect it and re-drive it. A re-drive (``hookgate replay --dead-letter``) sends it back to its source
topic marked with ``hookgate_redrive`` and ``hookgate_redrive_workflow`` (see ``redrive.py``); if the
re-run fails again, the new dead letter drops that marker, so re-driving it is a new re-drive.
"""

from __future__ import annotations

import time
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

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
    return headers


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


class KafkaDeadLetters:
    """The dead-letter topic, written with the shared idempotent ``acks=all`` producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

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
