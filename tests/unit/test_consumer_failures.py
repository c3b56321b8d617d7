"""Which failures are retried: a handler's exceptions (retry_on / fail_on) and an HTTP action's statuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from hookgate.consumer import Consumer, Event, Retry
from hookgate.consumer.engine.delivery import retry_reason
from hookgate.consumer.engine.failures import (
    TRACEBACK_LIMIT,
    ExceptionPolicy,
    exception_result,
    format_traceback,
    resolve_exception,
)
from hookgate.consumer.workflows.actions.http import HttpAction, StatusRules, classify
from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.config import ConfigError, load_model
from hookgate.core.envelope import Envelope

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class DeployLocked(RuntimeError):
    pass


@pytest.mark.parametrize(
    "exc", [KeyError("k"), IndexError(0), TypeError("t"), AttributeError("a"), NameError("n"), AssertionError()]
)
def test_programming_errors_are_not_retried_by_default(exc: BaseException) -> None:
    assert not ExceptionPolicy().retryable(exc)


@pytest.mark.parametrize(
    "exc", [ConnectionError("gone"), TimeoutError(), RuntimeError("x"), ValueError("v"), OSError()]
)
def test_other_exceptions_are_retried_by_default(exc: BaseException) -> None:
    assert ExceptionPolicy().retryable(exc)


def test_the_workflows_lists_win_and_the_most_specific_class_decides() -> None:
    policy = ExceptionPolicy(retry_on=(LookupError,), fail_on=(KeyError, DeployLocked))
    assert not policy.retryable(KeyError("k"))  # fail_on names KeyError itself
    assert policy.retryable(IndexError(0))  # retry_on's LookupError beats the default
    assert not policy.retryable(DeployLocked())
    assert policy.retryable(RuntimeError())
    assert ExceptionPolicy(retry_on=(Exception,)).retryable(TypeError())  # asked for: retry everything


def test_a_class_in_both_lists_and_names_that_are_not_exceptions_are_errors() -> None:
    with pytest.raises(ValueError, match="KeyError is in both"):
        ExceptionPolicy(retry_on=(KeyError,), fail_on=(KeyError,))
    assert resolve_exception("KeyError", "w") is KeyError
    assert resolve_exception("builtins.TimeoutError", "w") is TimeoutError
    assert resolve_exception(f"{__name__}.DeployLocked", "w") is DeployLocked
    with pytest.raises(ValueError, match="names no importable exception"):
        resolve_exception("nowhere.Error", "workflow 'x' retry_on")
    with pytest.raises(ValueError, match="is not an exception class"):
        resolve_exception("os.path", "w")


def test_an_exceptions_result_keeps_a_bounded_traceback() -> None:
    try:
        {}["ref"]  # the bug under test
    except KeyError as exc:
        result = exception_result(exc)
    assert (result.ok, result.retryable, result.cause, result.error) == (False, False, "exception", "KeyError: 'ref'")
    assert result.traceback is not None
    assert "KeyError: 'ref'" in result.traceback

    def deep(n: int) -> None:
        if n == 0:
            raise ValueError("bottom")
        deep(n - 1)

    try:
        deep(5)
    except ValueError as exc:
        full = format_traceback(exc)
        text = format_traceback(exc, limit=200)
    assert len(full) <= TRACEBACK_LIMIT
    assert len(full) > 200
    assert len(text) <= 200
    assert text.startswith("...(truncated)")
    assert text.rstrip().endswith("ValueError: bottom")  # the raising end is what is kept


def _run(app: Consumer, name: str) -> ActionResult:
    (wf,) = [w for w in app.workflows if w.name == name]
    envelope = Envelope(id="e1", source="/t", type="t", data=b"{}")
    return asyncio.run(wf.run(envelope))


def test_sdk_workflows_take_retry_on_and_fail_on_as_classes_or_dotted_names() -> None:
    app = Consumer("team")

    @app.workflow("lenient", retry_on=["KeyError"])
    async def lenient(event: Event) -> None:
        raise KeyError("not yet indexed")

    @app.workflow("strict", fail_on=[DeployLocked])
    async def strict(event: Event) -> None:
        raise DeployLocked("locked")

    @app.workflow("asks")
    async def asks(event: Event) -> None:
        raise Retry("later")

    assert _run(app, "lenient").retryable
    assert not _run(app, "strict").retryable
    assert _run(app, "asks").cause == "retry"
    with pytest.raises(ValueError, match="retry_on"):
        app.add("bad", lenient, retry_on=["no.such.Error"])


def test_retry_reasons_tell_a_requested_retry_from_an_exception_and_a_status() -> None:
    assert retry_reason(ActionResult(ok=False, cause="retry")) == "retry_requested"
    assert retry_reason(ActionResult(ok=False, cause="exception")) == "exception"
    assert retry_reason(ActionResult(ok=False, status=503, cause="status")) == "status_5xx"
    assert retry_reason(ActionResult(ok=False, status=429, cause="status")) == "status_4xx"
    assert retry_reason(ActionResult(ok=False, error="ClientConnectorError")) == "error"
    assert retry_reason(ActionResult(ok=False, error="circuit_open")) == "circuit_open"


def test_status_defaults_and_the_actions_rules() -> None:
    default = StatusRules()
    assert [s for s in (400, 401, 404, 409, 422, 301) if default.retryable(s)] == []
    assert all(default.retryable(s) for s in (408, 425, 429, 500, 502, 503))
    rules = StatusRules(retry_on=[409, "4xx"], fail_on=[501, 404])
    assert rules.retryable(409)
    assert rules.retryable(400)  # the class
    assert not rules.retryable(404)  # a code beats a class
    assert not rules.retryable(501)
    assert rules.retryable(503)  # the default still applies
    result = classify(404, None, NOW, rules)
    assert (result.retryable, result.cause) == (False, "status")
    assert classify(409, "5", NOW, rules).retry_after == 5.0


def _action(**extra: Any) -> HttpAction:
    data = {"workflows": [{"name": "w", "action": {"type": "http", "url": "http://ci/x", **extra}}]}
    from hookgate.consumer.config import ConsumerConfig

    cfg = load_model(ConsumerConfig, {"consumer": {"topics": ["t"]}, **data}, "<t>", env={})
    return cfg.workflows[0].action


def test_http_retry_on_and_fail_on_are_validated_at_load_naming_the_key() -> None:
    action = _action(retry_on=["5xx", 409], fail_on=["503"])
    assert action.retry_on == ["5xx", 409]
    for bad, key in (({"retry_on": ["6xx"]}, "retry_on"), ({"fail_on": [700]}, "fail_on")):
        with pytest.raises(ConfigError, match=rf"workflows\[0\]\.action\.{key}"):
            _action(**bad)
    with pytest.raises(ConfigError, match="409 is in both"):
        _action(retry_on=[409], fail_on=["409"])
