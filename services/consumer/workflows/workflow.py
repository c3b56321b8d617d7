"""The contract between the runner and what it runs.

A :class:`Workflow` decides whether it wants an event (``matches``) and runs its action for one event
(``run``). The runner owns the guarantees around that call (dedupe, retries, dead letters, commits);
a workflow never sees them. HTTP workflows come from YAML (``subscriptions.py``); Python handlers from
the SDK (``sdk.py``); both reach the runner through a :class:`WorkflowSet`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hookgate.core.envelope import Envelope


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of one attempt.

    ``retryable`` is False when repeating cannot help (e.g. a 4xx other than 408/425/429): the runner
    then dead-letters at once. ``retry_after`` (seconds) is the target's own hint (``Retry-After``).
    ``cause`` says what kind of failure it was, for the ``reason`` label of the retries counter:
    ``retry`` (a handler asked for another attempt), ``exception`` (a handler raised), ``status`` (an
    HTTP answer), None (a transport error). ``traceback`` is a handler's formatted traceback (bounded),
    kept in the dead letter's ``hookgate_error_traceback`` header.
    """

    ok: bool
    status: int | None = None
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None
    cause: str | None = None
    traceback: str | None = None


class Workflow(Protocol):
    """One subscription: a name, a match, an action."""

    @property
    def name(self) -> str: ...

    @property
    def ordered(self) -> bool:
        """True when a failing event must hold back later events of the same key (no overtaking)."""
        ...

    @property
    def target(self) -> str:
        """What the circuit breaker keys on (e.g. the URL's scheme://host:port); bounded by config."""
        ...

    def matches(self, event: Envelope) -> bool: ...

    async def run(self, event: Envelope) -> ActionResult: ...


def sees_delivery(workflow: Workflow) -> bool:
    """Whether ``workflow``'s runs read their delivery (attempt, re-drive, source position) through
    :class:`~hookgate.consumer.workflows.event.Event`: Python handlers do, an HTTP action's templates
    cannot. A workflow that never does says so with ``sees_delivery = False``; without it, it does."""
    return getattr(workflow, "sees_delivery", True) is not False


@runtime_checkable
class ReadsTopics(Protocol):
    """Optional: a workflow that reads only some record topics (YAML ``topics:``)."""

    def reads_topic(self, topic: str) -> bool: ...


class WorkflowSet:
    """The workflows currently in force; replaced whole on reload so a record sees one consistent set."""

    def __init__(self, workflows: Sequence[Workflow] = ()) -> None:
        self._workflows: tuple[Workflow, ...] = ()
        self._filtered: tuple[tuple[Workflow, ReadsTopics | None], ...] = ()
        self._by_name: dict[str, Workflow] = {}
        self.replace(workflows)

    def replace(self, workflows: Sequence[Workflow]) -> None:
        """Swap in a new set (a reload); records dispatched from now on see only the new workflows."""
        self._workflows = tuple(workflows)
        self._filtered = tuple((w, w if isinstance(w, ReadsTopics) else None) for w in self._workflows)
        self._by_name = {w.name: w for w in self._workflows}

    def select(self, event: Envelope, topic: str | None = None) -> list[Workflow]:
        """The workflows subscribed to ``event``, in configuration order.

        ``topic`` is the record's topic; workflows that declare ``topics:`` (:class:`ReadsTopics`) only
        see records of those topics. Without it, topic filters are not applied.
        """
        if topic is None:
            return [w for w in self._workflows if w.matches(event)]
        filtered = self._filtered  # one read: a replace() in between never mixes two sets
        return [w for w, filt in filtered if (filt is None or filt.reads_topic(topic)) and w.matches(event)]

    def get(self, name: str) -> Workflow | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return [w.name for w in self._workflows]

    def __len__(self) -> int:
        return len(self._workflows)

    def __iter__(self) -> Iterator[Workflow]:
        return iter(self._workflows)
