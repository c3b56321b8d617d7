"""Python handlers for internal teams: decorate an async function with its match, run it like a workflow.

::

    from hookgate.consumer import Consumer, Event, Fail, Retry, match

    app = Consumer("team-deploys")

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"))
    async def deploy(event: Event) -> None:
        push = event.json()
        ...                      # return = done; raise = failed (retried); Fail(permanent=True) = dead letter

    if __name__ == "__main__":
        raise SystemExit(app.run("consumer.yaml"))

A handler is a :class:`~hookgate.consumer.workflows.workflow.Workflow` like any YAML workflow, so the runner
gives it the same guarantees: dedupe per (workflow, event id), retries with backoff, dead letters,
ordered commits, metrics. ``hookgate consumer -c consumer.yaml --handlers package.module:app`` runs
the same handlers beside the YAML workflows without a ``__main__`` block.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hookgate.consumer.engine.failures import DEFAULT_POLICY, ExceptionPolicy, ExceptionSpec, exception_result
from hookgate.consumer.workflows.event import Event, event_of
from hookgate.consumer.workflows.subscriptions import valid_name
from hookgate.consumer.workflows.workflow import ActionResult, Workflow
from hookgate.core.envelope import Envelope
from hookgate.core.logging import get_logger
from hookgate.core.predicates import Everything, Predicate

log = get_logger("hookgate.consumer.workflows.sdk")

Handler = Callable[[Event], Awaitable[None]]
_MAX_REASON = 300


class Retry(Exception):
    """Fail this attempt and ask for another, no sooner than ``after`` seconds when given."""

    def __init__(self, reason: str = "retry requested", *, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class Fail(Exception):
    """Fail this attempt. ``permanent=True``: no retry can help, dead-letter the event at once."""

    def __init__(self, reason: str = "failed", *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class HandlerWorkflow:
    """A Python handler as a :class:`Workflow`: ``run`` turns its outcome into an :class:`ActionResult`."""

    name: str
    handler: Handler
    predicate: Predicate
    ordered: bool
    target: str
    timeout_seconds: float | None
    errors: ExceptionPolicy = DEFAULT_POLICY  # retry_on / fail_on

    def matches(self, event: Envelope) -> bool:
        return self.predicate.test(event_of(event))

    async def run(self, event: Envelope) -> ActionResult:
        try:
            if self.timeout_seconds is None:
                await self.handler(Event(event))
            else:
                async with asyncio.timeout(self.timeout_seconds):
                    await self.handler(Event(event))
        except Retry as exc:
            return ActionResult(ok=False, error=exc.reason[:_MAX_REASON], retry_after=exc.after, cause="retry")
        except Fail as exc:
            return ActionResult(
                ok=False, error=exc.reason[:_MAX_REASON], retryable=not exc.permanent, cause="exception"
            )
        except TimeoutError:
            return ActionResult(ok=False, error=f"handler timed out after {self.timeout_seconds} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The team's bug (dead-lettered at once) or its dependency's outage (retried): see engine/failures.py.
            log.warning(
                "handler_raised", workflow=self.name, event_id=event.id, reason=type(exc).__name__, exc_info=exc
            )
            return exception_result(exc, self.errors)
        return ActionResult(ok=True)


def _predicate(workflow: str, match: Predicate | Mapping[str, Any] | None) -> Predicate:
    if match is None:
        return Everything()
    if isinstance(match, Predicate):
        return match
    from hookgate.consumer.workflows.match_config import MatchConfig
    from hookgate.core.config import load_model

    return load_model(MatchConfig, dict(match), f"workflow {workflow!r} match", env={}).predicate()


class Consumer:
    """A team's set of Python handlers; ``name`` identifies the team in targets and logs."""

    def __init__(self, name: str) -> None:
        self.name = valid_name(name)
        self._workflows: dict[str, HandlerWorkflow] = {}

    def workflow(
        self,
        name: str,
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        ordered: bool = False,
        timeout_seconds: float | None = 60.0,
        retry_on: Iterable[ExceptionSpec] = (),
        fail_on: Iterable[ExceptionSpec] = (),
    ) -> Callable[[Handler], Handler]:
        """Register the decorated ``async def handler(event: Event) -> None`` as workflow ``name``.

        ``match`` is a predicate built with :mod:`hookgate.consumer.workflows.match`, or a mapping in the YAML
        grammar (``{"type": "com.github.push", "vars": {"ref": "refs/heads/main"}}``); None means every
        event. ``ordered=True`` keeps a failing event from being overtaken by later events of the same
        key; ``timeout_seconds`` bounds one attempt (None: unbounded). ``retry_on`` and ``fail_on``
        (exception classes or dotted names) say which exceptions are retried and which dead-letter at once;
        by default programming errors (``TypeError``, ``KeyError``, ...) dead-letter at once
        (:mod:`hookgate.consumer.engine.failures`).
        """

        def register(handler: Handler) -> Handler:
            self.add(
                name,
                handler,
                match=match,
                ordered=ordered,
                timeout_seconds=timeout_seconds,
                retry_on=retry_on,
                fail_on=fail_on,
            )
            return handler

        return register

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        ordered: bool = False,
        timeout_seconds: float | None = 60.0,
        retry_on: Iterable[ExceptionSpec] = (),
        fail_on: Iterable[ExceptionSpec] = (),
    ) -> None:
        """The non-decorator form of :meth:`workflow`."""
        valid_name(name)
        if name in self._workflows:
            raise ValueError(f"workflow {name!r} is already registered on consumer {self.name!r}")
        if not asyncio.iscoroutinefunction(handler):
            raise TypeError(f"workflow {name!r}: the handler must be an async function")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError(f"workflow {name!r}: timeout_seconds must be positive")
        self._workflows[name] = HandlerWorkflow(
            name=name,
            handler=handler,
            predicate=_predicate(name, match),
            ordered=ordered,
            target=f"python:{self.name}/{name}",
            timeout_seconds=timeout_seconds,
            errors=ExceptionPolicy.of(retry_on, fail_on, where=f"workflow {name!r}"),
        )

    @property
    def workflows(self) -> list[Workflow]:
        """The registered handlers as workflows, in registration order (what ``serve`` receives)."""
        return list(self._workflows.values())

    def run(self, config_path: str | Path) -> int:
        """Run a consumer process from ``config_path`` with these handlers beside its YAML workflows.

        Blocks until SIGTERM/SIGINT; returns the process exit code (2 when the file is invalid, with
        every problem on stderr). SIGHUP reloads the file's ``workflows:``.
        """
        from hookgate.consumer.app import serve
        from hookgate.consumer.config import ConsumerConfig
        from hookgate.core.config import ConfigError, load_yaml
        from hookgate.core.logging import configure_logging
        from hookgate.core.runtime import run

        try:
            config = load_yaml(ConsumerConfig, config_path)
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        configure_logging(config.consumer.log_level)
        workflows = self.workflows
        return run(lambda stop: serve(config, stop, extra_workflows=workflows, config_path=Path(config_path)))


def collect(consumers: Iterable[Consumer]) -> list[Workflow]:
    """Every handler of several consumers; names must be unique across all of them."""
    out: list[Workflow] = []
    seen: dict[str, str] = {}
    for consumer in consumers:
        for wf in consumer.workflows:
            if wf.name in seen:
                raise ValueError(f"workflow {wf.name!r} is registered by both {seen[wf.name]!r} and {consumer.name!r}")
            seen[wf.name] = consumer.name
            out.append(wf)
    return out


def load_consumer(spec: str) -> Consumer:
    """Import ``package.module:attribute`` and return that :class:`Consumer` (``--handlers``).

    The working directory is importable, as with ``python -m``, so a team's package works in place.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec}: expected package.module:attribute, e.g. myteam.handlers:app")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{spec}: cannot import {module_name}: {exc}") from None
    found = getattr(module, attribute, None)
    if not isinstance(found, Consumer):
        raise ValueError(f"{spec}: {attribute} is not a hookgate.consumer.Consumer (got {type(found).__name__})")
    return found
