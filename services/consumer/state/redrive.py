"""Re-drives: running a dead-lettered workflow again, once, when an operator sends its dead letter back.

``hookgate replay --dead-letter GROUP`` writes each dead letter of GROUP to GROUP's own re-drive topic
(``{prefix}._redrive.{group}``, :func:`hookgate.core.topics.redrive_topic`), which only that group reads,
beside its sources: no other group ever sees the record. Each keeps its original ``ce_id`` and
``hookgate_source_*`` headers and gets the marker: ``hookgate_redrive`` (one UUID per replay command),
``hookgate_redrive_workflow`` (the dead letter's ``hookgate_workflow``) and ``hookgate_redrive_group``
(GROUP). It goes to the re-drive topic's partition ``source partition % partitions``; the topic has as
many partitions as the group's dedupe changelog, so the member that reads it holds the dedupe state of
the event's source partition (``DedupeChangelog.partition_for``). For such a record the consumer
decides per matching workflow with :func:`decide`:

- a re-drive for another group does not run (a record replayed with ``--to-topic`` onto a shared topic:
  another group's workflow of the same name never re-runs), nor does a workflow it is not for;
- the named workflow runs again when its dedupe entry says ``deadlettered`` from an earlier run, and
  when it has no finished entry (expired, evicted, dedupe off, or a run still retrying), as any event would;
- it does not run when its entry says ``succeeded`` (a second re-drive of the same dead letter, or a
  redelivery of the re-driven record after the re-run succeeded), nor when the entry was written by this
  same re-drive (the re-run failed again and the re-driven record is redelivered after a crash or a
  rebalance: the new dead letter is already written, re-drive that one).

The re-run's done record (succeeded, or deadlettered again) overwrites the entry and carries the re-drive
id; a success also marks the dead letters of that (workflow, event) resolved (``deadletter.py``).
Records without the marker are decided exactly as before: a finished entry skips the run. A marker
without a group (written before re-drives were scoped) applies to every group reading it. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from hookgate.consumer.state.deadletter import (
    H_PARTITION,
    H_REDRIVE,
    H_REDRIVE_GROUP,
    H_REDRIVE_WORKFLOW,
    H_WORKFLOW,
)
from hookgate.consumer.state.dedupe import DEADLETTERED, DoneRecord


@dataclass(frozen=True, slots=True)
class Redrive:
    """The re-drive marker of a record: its id, the workflow it re-runs and the group it is for.

    ``workflow`` None: every workflow; ``group`` None: every group (markers older than group scoping).
    ``source_partition`` is the event's partition in its source topic (``hookgate_source_partition``).
    """

    id: str
    workflow: str | None
    group: str | None = None
    source_partition: int | None = None

    def names(self, workflow: str) -> bool:
        return self.workflow is None or self.workflow == workflow

    def for_group(self, group: str | None) -> bool:
        """True when this re-drive is for consumer group ``group`` (None: the caller does not check)."""
        return self.group is None or group is None or self.group == group


def redrive_of(headers: Sequence[tuple[str, bytes | None]]) -> Redrive | None:
    """The record's re-drive marker; None for an ordinary record (no or empty ``hookgate_redrive``)."""
    # Every record the consumer reads is asked: find the marker first, the rest only for a re-drive.
    rid = next((raw.decode("utf-8", errors="replace") for name, raw in headers if name == H_REDRIVE and raw), None)
    if rid is None:
        return None
    workflow: str | None = None
    group: str | None = None
    partition: int | None = None
    for name, raw in headers:
        if not raw:
            continue
        if name == H_REDRIVE_WORKFLOW:
            workflow = raw.decode("utf-8", errors="replace")
        elif name == H_REDRIVE_GROUP:
            group = raw.decode("utf-8", errors="replace")
        elif name == H_PARTITION and raw.isdigit():
            partition = int(raw)
    return Redrive(rid, workflow, group, partition)


def mark_redrive(
    headers: Sequence[tuple[str, bytes]], redrive_id: str, *, group: str | None = None
) -> list[tuple[str, bytes]]:
    """A dead letter's headers with the re-drive marker set (an earlier marker is replaced, not doubled).

    The workflow comes from the dead letter's ``hookgate_workflow``; ``group`` (the consumer group whose
    dead letter it is) scopes the re-drive to that group. All other headers are kept as they are.
    """
    ours = (H_REDRIVE, H_REDRIVE_WORKFLOW, H_REDRIVE_GROUP)
    kept = [(k, v) for k, v in headers if k not in ours]
    kept.append((H_REDRIVE, redrive_id.encode()))
    workflow = next((v for k, v in headers if k == H_WORKFLOW and v), None)
    if workflow is not None:
        kept.append((H_REDRIVE_WORKFLOW, workflow))
    if group is not None:
        kept.append((H_REDRIVE_GROUP, group.encode()))
    return kept


class Decision(enum.Enum):
    """What to do with one (workflow, event) before running it."""

    RUN = "run"  # no finished entry: run (an ordinary event, or a re-drive whose entry is gone)
    RERUN = "rerun"  # a re-drive of a dead-lettered run: run again
    DUPLICATE = "deduplicated"  # already finished (for a re-drive: succeeded, or this re-drive ran it)
    OTHER_WORKFLOW = "other_workflow"  # a re-drive for another workflow of the same event
    OTHER_GROUP = "other_group"  # a re-drive for another consumer group


def decide(workflow: str, done: DoneRecord | None, redrive: Redrive | None, *, group: str | None = None) -> Decision:
    """Whether ``workflow`` (of consumer group ``group``) runs for an event whose dedupe entry is ``done``.

    ``done`` None: no entry. An entry that is not finished (``retrying``) counts as none: the run goes on.
    """
    finished = done is not None and done.finished
    if redrive is None:
        return Decision.DUPLICATE if finished else Decision.RUN
    if not redrive.for_group(group):
        return Decision.OTHER_GROUP
    if not redrive.names(workflow):
        return Decision.OTHER_WORKFLOW
    if done is None or not finished:
        return Decision.RUN
    if done.outcome == DEADLETTERED and done.redrive != redrive.id:
        return Decision.RERUN
    return Decision.DUPLICATE


def attempts_so_far(done: DoneRecord | None, redrive: Redrive | None) -> int:
    """Attempts the run already made: a ``retrying`` entry of this same run (the same re-drive, or none)."""
    if done is None or done.finished or done.attempts is None:
        return 0
    if done.redrive != (redrive.id if redrive is not None else None):
        return 0
    return done.attempts
