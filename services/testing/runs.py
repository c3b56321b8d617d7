"""Run a consumer's Python workflows against one event, in memory: no Kafka, no runner, no retries.

:func:`run` asks every workflow of the app whether it matches the event (the runner's own test), calls
each matching handler once (validating its ``model=`` payload first, within its ``timeout_seconds``) and
reports, per workflow, what happened and what the runner would do next: done, retry, or dead-letter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hookgate.consumer.workflows.event import Event
from hookgate.consumer.workflows.match import describe
from hookgate.consumer.workflows.sdk import Attempt, Consumer, Fail, HandlerWorkflow, Retry
from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.envelope import Envelope

__all__ = ["Result", "WorkflowRun", "run", "run_sync", "yaml_matches"]


@dataclass(frozen=True, slots=True)
class WorkflowRun:
    """One workflow's part in a :class:`Result`: whether it matched and, if so, what its one attempt did."""

    workflow: str
    match: str
    """The workflow's match in plain words (``type is com.github.push and vars.ref is refs/heads/main``)."""
    matched: bool
    attempt: Attempt | None = None
    action: ActionResult | None = None
    """What the runner makes of the attempt (``ok``, ``retryable``, ``error``, ``retry_after``)."""

    @property
    def ran(self) -> bool:
        """The handler was called (it matched and its payload, if it has a model, validated)."""
        return self.attempt is not None and self.attempt.invalid is None

    @property
    def succeeded(self) -> bool:
        """It matched and returned without raising."""
        return self.action is not None and self.action.ok

    @property
    def returned(self) -> object:
        """What the handler returned (None when it did not run or raised)."""
        return self.attempt.returned if self.attempt is not None else None

    @property
    def raised(self) -> BaseException | None:
        """The exception the handler raised (``Retry``, ``Fail``, a ``TimeoutError`` or any other), if any."""
        return self.attempt.raised if self.attempt is not None else None

    @property
    def retry(self) -> Retry | None:
        """The :class:`Retry` it raised, if it did."""
        return self.raised if isinstance(self.raised, Retry) else None

    @property
    def fail(self) -> Fail | None:
        """The :class:`Fail` it raised, if it did."""
        return self.raised if isinstance(self.raised, Fail) else None

    @property
    def invalid(self) -> ValidationError | None:
        """The payload's validation error (``model=``); the handler did not run."""
        return self.attempt.invalid if self.attempt is not None else None

    @property
    def error(self) -> str | None:
        """The error the runner would record (a dead letter's ``hookgate_error``)."""
        return self.action.error if self.action is not None else None

    @property
    def will_retry(self) -> bool:
        """The runner would try again (while attempts remain)."""
        return self.action is not None and not self.action.ok and self.action.retryable

    @property
    def dead_lettered(self) -> bool:
        """The runner would dead-letter the event at once, without another attempt."""
        return self.action is not None and not self.action.ok and not self.action.retryable

    def __str__(self) -> str:
        if not self.matched:
            return f"{self.workflow}: not matched"
        if self.succeeded:
            return f"{self.workflow}: succeeded"
        then = "dead-lettered at once" if self.dead_lettered else "retried"
        return f"{self.workflow}: {then} ({self.error})"


@dataclass(frozen=True, slots=True)
class Result:
    """What :func:`run` saw: every workflow of the app, in registration order, matched or not."""

    event: Event
    runs: tuple[WorkflowRun, ...]

    @property
    def matched(self) -> list[str]:
        """The names of the workflows that matched the event."""
        return [r.workflow for r in self.runs if r.matched]

    @property
    def succeeded(self) -> list[str]:
        """The names of the workflows that matched and succeeded."""
        return [r.workflow for r in self.runs if r.succeeded]

    @property
    def failed(self) -> list[str]:
        """The names of the workflows that matched and did not succeed (retry or dead letter)."""
        return [r.workflow for r in self.runs if r.matched and not r.succeeded]

    def __getitem__(self, workflow: str) -> WorkflowRun:
        for r in self.runs:
            if r.workflow == workflow:
                return r
        raise KeyError(f"no workflow {workflow!r}; the app has {', '.join(r.workflow for r in self.runs) or 'none'}")

    def __iter__(self) -> Iterator[WorkflowRun]:
        return iter(self.runs)

    def __str__(self) -> str:
        return "\n".join(str(r) for r in self.runs)


def _handlers(app: Consumer | Iterable[Consumer]) -> list[HandlerWorkflow]:
    apps = [app] if isinstance(app, Consumer) else list(app)
    out: list[HandlerWorkflow] = []
    seen: set[str] = set()
    for one in apps:
        for wf in one.handlers:
            if wf.name in seen:
                raise ValueError(f"workflow {wf.name!r} is registered twice")
            seen.add(wf.name)
            out.append(wf)
    return out


async def run(app: Consumer | Iterable[Consumer], event: Event | Envelope) -> Result:
    """Match ``event`` against every workflow of ``app`` and run each that matches, once, concurrently.

    Nothing is retried and nothing is deduplicated: the result says what the runner *would* do with each
    outcome (:attr:`WorkflowRun.will_retry`, :attr:`WorkflowRun.dead_lettered`). A handler's own side
    effects happen as they would in production; stub what it calls the way you stub any dependency.
    """
    ev = event if isinstance(event, Event) else Event(event)
    handlers = _handlers(app)
    matched = [wf.matches(ev.envelope) for wf in handlers]
    attempts = await asyncio.gather(*(wf.call(ev) for wf, m in zip(handlers, matched, strict=True) if m))
    it = iter(attempts)
    runs: list[WorkflowRun] = []
    for wf, m in zip(handlers, matched, strict=True):
        if not m:
            runs.append(WorkflowRun(wf.name, describe(wf.predicate), matched=False))
            continue
        attempt = next(it)
        runs.append(WorkflowRun(wf.name, describe(wf.predicate), True, attempt, wf.result(attempt)))
    return Result(ev, tuple(runs))


def run_sync(app: Consumer | Iterable[Consumer], event: Event | Envelope) -> Result:
    """:func:`run` from synchronous code (a plain ``def test_...``); inside a running loop, ``await run(...)``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run(app, event))
    raise RuntimeError("run_sync() called from a running event loop: use `await hookgate.testing.run(app, event)`")


def yaml_matches(config: str | Path | Any, event: Event | Envelope, *, topic: str | None = None) -> dict[str, str]:
    """The YAML workflows of a consumer config (a file path or a loaded ``ConsumerConfig``) that ``event`` matches.

    Returns ``{workflow name: its match in plain words}`` in configuration order; ``tenants`` count, and
    ``topics`` too when ``topic`` (the record's topic) is given. Nothing is sent: HTTP actions are not run.
    """
    import fnmatch

    from hookgate.consumer.config import ConsumerConfig
    from hookgate.core.config import load_yaml

    cfg = load_yaml(ConsumerConfig, config) if isinstance(config, str | Path) else config
    if not isinstance(cfg, ConsumerConfig):
        raise TypeError(f"config is a consumer config file path or a ConsumerConfig, not {type(cfg).__name__}")
    ev = event if isinstance(event, Event) else Event(event)
    out: dict[str, str] = {}
    for wf in cfg.workflows:
        if topic is not None and wf.topics and not any(fnmatch.fnmatchcase(topic, t) for t in wf.topics):
            continue
        predicate = wf.predicate()
        if predicate.test(ev):
            out[wf.name] = describe(predicate)
    return out
