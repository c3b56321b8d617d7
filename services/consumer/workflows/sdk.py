"""Python handlers for internal teams: decorate an async function with its match, run it like a workflow.

::

    from pydantic import BaseModel

    from hookgate.consumer import Consumer, Event, Fail, Retry, match

    app = Consumer("team-deploys")

    class Push(BaseModel):
        ref: str
        after: str

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"), model=Push)
    async def deploy(event: Event, push: Push) -> None:
        ...                      # return = done; raise = failed (retried); Fail(permanent=True) = dead letter

    if __name__ == "__main__":
        raise SystemExit(app.run("consumer.yaml"))

A handler is a :class:`~hookgate.consumer.workflows.workflow.Workflow` like any YAML workflow, so the runner
gives it the same guarantees: dedupe per (workflow, event id), retries with backoff, dead letters,
ordered commits, metrics. ``hookgate consumer -c consumer.yaml --handlers package.module:app`` runs
the same handlers beside the YAML workflows without a ``__main__`` block. :mod:`hookgate.testing` runs
them in memory, for a team's unit tests.

With ``model=`` the body is validated against that pydantic model (or any type pydantic's ``TypeAdapter``
takes) before the handler runs, and the handler gets the instance as its second argument; a body that
does not validate is dead-lettered at once with the validation errors: no retry can change a body.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from pydantic import TypeAdapter, ValidationError

from hookgate.consumer.engine.failures import DEFAULT_POLICY, ExceptionPolicy, ExceptionSpec, exception_result
from hookgate.consumer.workflows.event import Event, event_of
from hookgate.consumer.workflows.subscriptions import valid_name
from hookgate.consumer.workflows.workflow import ActionResult, Workflow
from hookgate.core.envelope import Envelope
from hookgate.core.logging import get_logger
from hookgate.core.predicates import Everything, Predicate

log = get_logger("hookgate.consumer.workflows.sdk")

M = TypeVar("M")
Handler = Callable[[Event], Awaitable[object]]
"""``async def handler(event: Event) -> None``; what it returns is ignored by the runner (tests see it)."""
ModelHandler = Callable[[Event, M], Awaitable[object]]
"""``async def handler(event: Event, payload: Model) -> None``, for a workflow registered with ``model=``."""
H = TypeVar("H", bound=Callable[..., Awaitable[object]])

_MAX_REASON = 300
# Validation errors name every bad field; a dead letter's error header may say that much, not more.
_MAX_INVALID = 1000
_MAX_LISTED_ERRORS = 10


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


def describe_validation_error(model_name: str, exc: ValidationError) -> str:
    """One line naming each field that failed and why, never the input values (bodies are not logged)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    listed = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in errors[:_MAX_LISTED_ERRORS]
    )
    more = f"; and {len(errors) - _MAX_LISTED_ERRORS} more" if len(errors) > _MAX_LISTED_ERRORS else ""
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    return f"payload is not a valid {model_name} ({count}): {listed}{more}"[:_MAX_INVALID]


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one call of a handler did: returned a value, raised, timed out, or never ran (invalid payload).

    :meth:`HandlerWorkflow.result` turns it into the :class:`ActionResult` the runner acts on;
    :mod:`hookgate.testing` reports both.
    """

    returned: object = None
    raised: BaseException | None = None
    invalid: ValidationError | None = None
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class HandlerWorkflow:
    """A Python handler as a :class:`Workflow`: ``run`` turns its outcome into an :class:`ActionResult`."""

    name: str
    handler: Callable[..., Awaitable[object]]
    predicate: Predicate
    ordered: bool
    target: str
    timeout_seconds: float | None
    errors: ExceptionPolicy = DEFAULT_POLICY  # retry_on / fail_on
    model: Any = None
    _adapter: TypeAdapter[Any] | None = field(default=None, repr=False, compare=False)

    @property
    def model_name(self) -> str | None:
        """The payload model's name, or None for a handler without ``model=``."""
        if self.model is None:
            return None
        return str(getattr(self.model, "__name__", repr(self.model)))

    def matches(self, event: Envelope) -> bool:
        return self.predicate.test(event_of(event))

    async def call(self, event: Event) -> Attempt:
        """Validate the payload (with ``model=``), then call the handler once within ``timeout_seconds``."""
        args: tuple[object, ...] = (event,)
        if self._adapter is not None:
            try:
                args = (event, self._adapter.validate_json(event.data))
            except ValidationError as exc:
                return Attempt(invalid=exc)
        deadline = asyncio.timeout(self.timeout_seconds)
        try:
            async with deadline:
                returned = await self.handler(*args)
        except TimeoutError as exc:
            # Ours when the deadline expired; else the handler's own (a client's timeout), a failure like any.
            return Attempt(raised=exc, timed_out=deadline.expired())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return Attempt(raised=exc)
        return Attempt(returned=returned)

    def result(self, attempt: Attempt) -> ActionResult:
        """What the runner does with ``attempt``: done, retry (when), or dead-letter at once."""
        if attempt.invalid is not None:
            # The body is what it is: no retry can make it valid.
            error = describe_validation_error(self.model_name or "payload", attempt.invalid)
            return ActionResult(ok=False, error=error, retryable=False)
        exc = attempt.raised
        if exc is None:
            return ActionResult(ok=True)
        if attempt.timed_out:
            return ActionResult(ok=False, error=f"handler timed out after {self.timeout_seconds} s")
        if isinstance(exc, Retry):
            return ActionResult(ok=False, error=exc.reason[:_MAX_REASON], retry_after=exc.after, cause="retry")
        if isinstance(exc, Fail):
            return ActionResult(
                ok=False, error=exc.reason[:_MAX_REASON], retryable=not exc.permanent, cause="exception"
            )
        # The team's bug (dead-lettered at once) or its dependency's outage (retried): see engine/failures.py.
        return exception_result(exc, self.errors)

    async def run(self, event: Envelope) -> ActionResult:
        attempt = await self.call(Event(event))
        result = self.result(attempt)
        if attempt.invalid is not None:
            log.warning("payload_invalid", workflow=self.name, event_id=event.id, reason=result.error)
        elif attempt.raised is not None and not isinstance(attempt.raised, Retry | Fail) and not attempt.timed_out:
            exc = attempt.raised
            log.warning(
                "handler_raised", workflow=self.name, event_id=event.id, reason=type(exc).__name__, exc_info=exc
            )
        return result


def _predicate(workflow: str, match: Predicate | Mapping[str, Any] | None) -> Predicate:
    if match is None:
        return Everything()
    if isinstance(match, Predicate):
        return match
    from hookgate.consumer.workflows.match_config import MatchConfig
    from hookgate.core.config import load_model

    return load_model(MatchConfig, dict(match), f"workflow {workflow!r} match", env={}).predicate()


def _adapter(workflow: str, model: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(model)
    except Exception as exc:  # pydantic raises several types for a type it cannot build a schema for
        raise TypeError(f"workflow {workflow!r}: model={model!r} is not a type pydantic can validate: {exc}") from None


class Consumer:
    """A team's set of Python handlers; ``name`` identifies the team in targets and logs."""

    def __init__(self, name: str) -> None:
        self.name = valid_name(name)
        self._workflows: dict[str, HandlerWorkflow] = {}

    @overload
    def workflow(
        self,
        name: str,
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        model: None = None,
        ordered: bool = False,
        timeout_seconds: float | None = 60.0,
        retry_on: Iterable[ExceptionSpec] = (),
        fail_on: Iterable[ExceptionSpec] = (),
    ) -> Callable[[Handler], Handler]: ...

    @overload
    def workflow(
        self,
        name: str,
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        model: type[M],
        ordered: bool = False,
        timeout_seconds: float | None = 60.0,
        retry_on: Iterable[ExceptionSpec] = (),
        fail_on: Iterable[ExceptionSpec] = (),
    ) -> Callable[[ModelHandler[M]], ModelHandler[M]]: ...

    def workflow(
        self,
        name: str,
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        model: type[Any] | None = None,
        ordered: bool = False,
        timeout_seconds: float | None = 60.0,
        retry_on: Iterable[ExceptionSpec] = (),
        fail_on: Iterable[ExceptionSpec] = (),
    ) -> Callable[[H], H]:
        """Register the decorated handler as workflow ``name``.

        Without ``model``: ``async def handler(event: Event) -> None``. With ``model=PushEvent`` (a
        pydantic model, or any type pydantic's ``TypeAdapter`` accepts): ``async def handler(event: Event,
        push: PushEvent) -> None``; the JSON body is validated first and one that does not validate is
        dead-lettered at once, the errors in its ``hookgate_error`` header.

        ``match`` is a predicate built with :mod:`hookgate.consumer.workflows.match`, or a mapping in the YAML
        grammar (``{"type": "com.github.push", "vars": {"ref": "refs/heads/main"}}``); None means every
        event. ``ordered=True`` keeps a failing event from being overtaken by later events of the same
        key; ``timeout_seconds`` bounds one attempt (None: unbounded). ``retry_on`` and ``fail_on``
        (exception classes or dotted names) say which exceptions are retried and which dead-letter at once;
        by default programming errors (``TypeError``, ``KeyError``, ...) dead-letter at once
        (:mod:`hookgate.consumer.engine.failures`).
        """

        def register(handler: H) -> H:
            self.add(
                name,
                handler,
                match=match,
                model=model,
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
        handler: Callable[..., Awaitable[object]],
        *,
        match: Predicate | Mapping[str, Any] | None = None,
        model: type[Any] | None = None,
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
            model=model,
            _adapter=_adapter(name, model) if model is not None else None,
            errors=ExceptionPolicy.of(retry_on, fail_on, where=f"workflow {name!r}"),
        )

    @property
    def handlers(self) -> list[HandlerWorkflow]:
        """The registered handlers, in registration order, with their match, model and options."""
        return list(self._workflows.values())

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
