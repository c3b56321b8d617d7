"""Re-drives: running a dead-lettered workflow again, once, when an operator sends its dead letter back.

``hookgate replay --dead-letter`` puts each dead letter back on its source topic with the original
``ce_id`` and two more headers: ``hookgate_redrive`` (one UUID per replay command) and
``hookgate_redrive_workflow`` (the dead letter's ``hookgate_workflow``). For such a record the consumer
decides per matching workflow with :func:`decide`:

- a workflow the re-drive is not for does not run (whatever its dedupe entry says);
- the named workflow runs again when its dedupe entry says ``deadlettered`` from an earlier run, and
  when it has no entry (expired, evicted, or dedupe off), as any event would;
- it does not run when its entry says ``succeeded`` (a second re-drive of the same dead letter, or a
  redelivery of the re-driven record after the re-run succeeded), nor when the entry was written by this
  same re-drive (the re-run failed again and the re-driven record is redelivered after a crash or a
  rebalance: the new dead letter is already written, re-drive that one).

The re-run's done record (succeeded, or deadlettered again) overwrites the entry and carries the re-drive
id. Records without the marker are decided exactly as before: any entry skips the run. Pure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hookgate.consumer.state.deadletter import H_REDRIVE, H_REDRIVE_WORKFLOW, H_WORKFLOW
from hookgate.consumer.state.dedupe import DEADLETTERED, DoneRecord


@dataclass(frozen=True, slots=True)
class Redrive:
    """The re-drive marker of a record: its id and the workflow it re-runs (None: every workflow)."""

    id: str
    workflow: str | None

    def names(self, workflow: str) -> bool:
        return self.workflow is None or self.workflow == workflow


def redrive_of(headers: Iterable[tuple[str, bytes | None]]) -> Redrive | None:
    """The record's re-drive marker; None for an ordinary record (no or empty ``hookgate_redrive``)."""
    rid: str | None = None
    workflow: str | None = None
    for name, raw in headers:
        if name == H_REDRIVE and raw:
            rid = raw.decode("utf-8", errors="replace")
        elif name == H_REDRIVE_WORKFLOW and raw:
            workflow = raw.decode("utf-8", errors="replace")
    return Redrive(rid, workflow) if rid is not None else None


def mark_redrive(headers: Sequence[tuple[str, bytes]], redrive_id: str) -> list[tuple[str, bytes]]:
    """A dead letter's headers with the re-drive marker set (an earlier marker is replaced, not doubled).

    The workflow comes from the dead letter's ``hookgate_workflow``; all other headers are kept as they are.
    """
    kept = [(k, v) for k, v in headers if k not in (H_REDRIVE, H_REDRIVE_WORKFLOW)]
    kept.append((H_REDRIVE, redrive_id.encode()))
    workflow = next((v for k, v in headers if k == H_WORKFLOW and v), None)
    if workflow is not None:
        kept.append((H_REDRIVE_WORKFLOW, workflow))
    return kept


class Decision(enum.Enum):
    """What to do with one (workflow, event) before running it."""

    RUN = "run"  # no entry: run (an ordinary event, or a re-drive whose entry is gone)
    RERUN = "rerun"  # a re-drive of a dead-lettered run: run again
    DUPLICATE = "deduplicated"  # already finished (for a re-drive: succeeded, or this re-drive ran it)
    OTHER_WORKFLOW = "other_workflow"  # a re-drive for another workflow of the same event


def decide(workflow: str, done: DoneRecord | None, redrive: Redrive | None) -> Decision:
    """Whether ``workflow`` runs for an event whose dedupe entry is ``done`` (None: no entry)."""
    if redrive is None:
        return Decision.RUN if done is None else Decision.DUPLICATE
    if not redrive.names(workflow):
        return Decision.OTHER_WORKFLOW
    if done is None:
        return Decision.RUN
    if done.outcome == DEADLETTERED and done.redrive != redrive.id:
        return Decision.RERUN
    return Decision.DUPLICATE
