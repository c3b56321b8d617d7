"""The Python handler SDK: registration, outcomes as ActionResults, loading ``--handlers`` references."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from hookgate.consumer import ActionResult, Consumer, Event, Fail, Retry, match
from hookgate.consumer.workflows.sdk import collect, load_consumer
from hookgate.consumer.workflows.workflow import WorkflowSet
from hookgate.core.envelope import Envelope


def envelope(type: str = "com.github.push", ref: str = "refs/heads/main") -> Envelope:
    return Envelope(
        id="e-1",
        source="/hookgate/github",
        type=type,
        data=b'{"ok": true}',
        extensions={"tenant": "acme", "vars": f'{{"ref": "{ref}"}}'},
    )


def test_registration_and_matching() -> None:
    app = Consumer("team-deploys")
    seen: list[str] = []

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"), ordered=True)
    async def deploy(event: Event) -> None:
        seen.append(event.id)

    @app.workflow("audit")
    async def audit(event: Event) -> None:
        pass

    assert [w.name for w in app.workflows] == ["deploy", "audit"]
    wf = app.workflows[0]
    assert wf.ordered is True
    assert wf.target == "python:team-deploys/deploy"
    assert wf.matches(envelope())
    assert not wf.matches(envelope(ref="refs/heads/dev"))
    assert not wf.matches(envelope(type="com.github.issues"))
    assert app.workflows[1].matches(envelope(type="anything"))  # no match = every event
    ws = WorkflowSet(app.workflows)
    assert [w.name for w in ws.select(envelope(ref="x"))] == ["audit"]
    assert asyncio.run(wf.run(envelope())) == ActionResult(ok=True)
    assert seen == ["e-1"]
    assert deploy.__name__ == "deploy"  # the decorator returns the function itself


@pytest.mark.parametrize("name", ["Deploy", "", "a b", "x" * 64])
def test_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        Consumer("team").add(name, _noop)


async def _noop(event: Event) -> None:
    return None


def test_registration_errors() -> None:
    app = Consumer("team")
    app.add("a", _noop)
    with pytest.raises(ValueError, match="already registered"):
        app.add("a", _noop)
    with pytest.raises(TypeError, match="async"):
        app.add("b", lambda e: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="timeout_seconds"):
        app.add("c", _noop, timeout_seconds=0)
    other = Consumer("other")
    other.add("a", _noop)
    with pytest.raises(ValueError, match="both 'team' and 'other'"):
        collect([app, other])


def outcome(handler: object, timeout: float | None = 60.0) -> ActionResult:
    app = Consumer("team")
    app.add("wf", handler, timeout_seconds=timeout)  # type: ignore[arg-type]
    return asyncio.run(app.workflows[0].run(envelope()))


def test_exceptions_steer_retries() -> None:
    async def retry_later(event: Event) -> None:
        raise Retry("deploy lock held", after=12.5)

    async def permanent(event: Event) -> None:
        raise Fail("unknown environment", permanent=True)

    async def transient(event: Event) -> None:
        raise Fail("flaky")

    async def bug(event: Event) -> None:
        raise KeyError("missing")

    async def slow(event: Event) -> None:
        await asyncio.sleep(5)

    assert outcome(retry_later) == ActionResult(ok=False, error="deploy lock held", retry_after=12.5, cause="retry")
    assert outcome(permanent) == ActionResult(ok=False, error="unknown environment", retryable=False, cause="exception")
    assert outcome(transient) == ActionResult(ok=False, error="flaky", retryable=True, cause="exception")
    bug_result = outcome(bug)
    assert not bug_result.ok
    assert not bug_result.retryable  # a programming error: dead-lettered at once (engine/failures.py)
    assert bug_result.error == "KeyError: 'missing'"
    assert bug_result.traceback is not None
    assert "in bug" in bug_result.traceback
    slow_result = outcome(slow, timeout=0.01)
    assert not slow_result.ok
    assert slow_result.retryable
    assert "timed out" in (slow_result.error or "")


def test_load_consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "teampkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "handlers.py").write_text(
        "from hookgate.consumer import Consumer, Event\n"
        "app = Consumer('team')\n"
        "not_a_consumer = 3\n"
        "@app.workflow('hello')\n"
        "async def hello(event: Event) -> None:\n"
        "    pass\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert [w.name for w in load_consumer("teampkg.handlers:app").workflows] == ["hello"]
        with pytest.raises(ValueError, match=r"expected package\.module:attribute"):
            load_consumer("teampkg.handlers")
        with pytest.raises(ValueError, match="cannot import"):
            load_consumer("teampkg.nope:app")
        with pytest.raises(ValueError, match=r"not a hookgate\.consumer\.Consumer"):
            load_consumer("teampkg.handlers:not_a_consumer")
    finally:
        for mod in [m for m in sys.modules if m.startswith("teampkg")]:
            del sys.modules[mod]


def test_the_copyable_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    from hookgate.consumer.config import ConsumerConfig
    from hookgate.core.config import load_yaml

    root = Path(__file__).resolve().parents[2]
    config = load_yaml(ConsumerConfig, root / "examples/workflows/consumer.yaml", env={})
    assert [w.name for w in config.workflows] == ["jenkins-build", "dispatch-e2e", "slack-failures"]
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "path", list(sys.path))
    app = load_consumer("examples.workflows.deploy_handler:app")
    assert [w.name for w in app.workflows] == ["deploy-main", "announce-release"]
    names = [w.name for w in collect([app])] + [w.name for w in config.workflows]
    assert len(names) == len(set(names))


def test_a_match_may_use_the_yaml_grammar() -> None:
    from hookgate.core.config import ConfigError

    app = Consumer("team")
    app.add("wf", _noop, match={"type": "com.github.*", "vars": {"ref": {"suffix": "/main"}}})
    assert app.workflows[0].matches(envelope())
    assert not app.workflows[0].matches(envelope(ref="refs/heads/dev"))
    with pytest.raises(ConfigError, match=r"workflow 'bad' match: invalid configuration") as err:
        app.add("bad", _noop, match={"subject": {"regex": "("}})
    assert "subject.regex" in str(err.value)
