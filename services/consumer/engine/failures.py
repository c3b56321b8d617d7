"""Which exceptions of a Python handler are worth retrying: ``retry_on``, ``fail_on`` and the defaults.

A handler that raises ``KeyError`` on an event will raise it on every attempt: retrying only delays the
dead letter and hides the bug behind backoff. So programming errors (:data:`DEFAULT_FAIL_ON`) dead-letter
at once, with their traceback in the dead letter's headers; every other exception is retried, as a
dependency's outage would be. A workflow adjusts both with ``retry_on`` and ``fail_on`` (exception types,
or their dotted names such as ``"httpx.HTTPStatusError"``):

- the workflow's own lists win over the defaults;
- within them, the most specific class wins: the exception's class first, then its bases in MRO order
  (``fail_on=[KeyError], retry_on=[LookupError]`` dead-letters a ``KeyError`` and retries an ``IndexError``);
- a class in both lists is a configuration error.

Pure apart from importing the dotted names once, at registration.
"""

from __future__ import annotations

import importlib
import traceback as tb
from collections.abc import Iterable
from dataclasses import dataclass

from hookgate.consumer.workflows.workflow import ActionResult

DEFAULT_FAIL_ON: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,  # UnboundLocalError too
    LookupError,  # KeyError, IndexError
    ImportError,
    SyntaxError,
    AssertionError,
    NotImplementedError,
)
"""Exceptions that are bugs, not bad luck: retrying cannot make them succeed."""

TRACEBACK_LIMIT = 8 * 1024
"""Characters of a traceback kept in a dead letter (the innermost frames: where it was raised)."""

MAX_REASON = 300
ExceptionSpec = type[BaseException] | str


def resolve_exception(spec: ExceptionSpec, where: str) -> type[BaseException]:
    """An exception class from itself or its dotted name (``builtins.KeyError``, ``KeyError``, ``pkg.mod.Error``)."""
    if isinstance(spec, type) and issubclass(spec, BaseException):
        return spec
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"{where}: expected an exception class or its dotted name, got {spec!r}")
    module, _, name = spec.rpartition(".")
    try:
        found = getattr(importlib.import_module(module or "builtins"), name)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"{where}: {spec!r} names no importable exception class") from None
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ValueError(f"{where}: {spec!r} is not an exception class")
    return found


@dataclass(frozen=True, slots=True)
class ExceptionPolicy:
    """A workflow's ``retry_on`` and ``fail_on``, over :data:`DEFAULT_FAIL_ON`."""

    retry_on: tuple[type[BaseException], ...] = ()
    fail_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        both = sorted(c.__name__ for c in set(self.retry_on) & set(self.fail_on))
        if both:
            raise ValueError(f"{', '.join(both)} is in both retry_on and fail_on")

    @classmethod
    def of(
        cls, retry_on: Iterable[ExceptionSpec] = (), fail_on: Iterable[ExceptionSpec] = (), *, where: str
    ) -> ExceptionPolicy:
        """From classes or dotted names; ValueError/TypeError naming ``where`` when one is not an exception."""
        return cls(
            tuple(resolve_exception(s, f"{where} retry_on") for s in retry_on),
            tuple(resolve_exception(s, f"{where} fail_on") for s in fail_on),
        )

    def retryable(self, exc: BaseException) -> bool:
        """Whether another attempt could succeed after ``exc``."""
        mro = type(exc).__mro__
        for cls in mro:
            if cls in self.fail_on:
                return False
            if cls in self.retry_on:
                return True
        return not any(cls in DEFAULT_FAIL_ON for cls in mro)


DEFAULT_POLICY = ExceptionPolicy()


def reason_of(exc: BaseException) -> str:
    """``Type: message`` (bounded): the dead letter's ``hookgate_error``."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_REASON]


def format_traceback(exc: BaseException, limit: int = TRACEBACK_LIMIT) -> str:
    """The formatted traceback, its tail kept when it exceeds ``limit`` characters (the raising frames)."""
    text = "".join(tb.format_exception(exc))
    if len(text) <= limit:
        return text
    marker = "...(truncated)\n"
    return marker + text[len(text) - (limit - len(marker)) :]


def exception_result(exc: BaseException, policy: ExceptionPolicy = DEFAULT_POLICY) -> ActionResult:
    """The failed attempt a handler's exception makes: retryable or not per ``policy``, traceback kept."""
    return ActionResult(
        ok=False,
        error=reason_of(exc),
        retryable=policy.retryable(exc),
        cause="exception",
        traceback=format_traceback(exc),
    )
