"""hookgate.testing itself: events as the gateway makes them, in-memory runs, and the pytest fixtures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from hookgate.consumer import Consumer, Event, Fail, Retry, match
from hookgate.core.envelope import Envelope
from hookgate.testing import github_event, make_event, run, run_sync, sender_event, stripe_event, yaml_matches

ROOT = Path(__file__).resolve().parents[2]


def test_make_event_from_raw_parts() -> None:
    event = make_event(type="com.acme.order", data={"n": 1}, variables={"ref": "main"}, tenant="acme", subject="o-1")
    assert event.type == "com.acme.order"
    assert event.json() == {"n": 1}
    assert event.datacontenttype == "application/json"
    assert event.variables == {"ref": "main"}
    assert (event.tenant, event.trigger, event.source, event.subject) == ("acme", "test", "/hookgate/test", "o-1")
    assert event.id
    assert event.time
    assert make_event(type="t").id != make_event(type="t").id
    text = make_event(type="t", data="hi", id="x", extensions={"priority": "high"})
    assert (text.data, text.datacontenttype, text.id, text.attribute("priority")) == (
        b"hi",
        "text/plain; charset=utf-8",
        "x",
        "high",
    )
    assert make_event(type="t", data=b"\x00\x01").data == b"\x00\x01"


def test_github_event_has_the_gateway_attributes() -> None:
    event = github_event("push", {"ref": "refs/heads/main"}, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert event.id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert event.type == "com.github.push"
    assert event.source == "/hookgate/github"
    assert event.trigger == "github"
    assert event.variables == {}  # a trigger extracts variables only when it declares them
    assert github_event("pull_request_review", {}).type == "com.github.pull_request_review"


def test_stripe_event_reads_id_type_and_subject_from_the_body() -> None:
    event = stripe_event({"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_9"}}}, tenant="acme")
    assert (event.id, event.type, event.subject, event.tenant) == ("evt_1", "com.stripe.invoice.paid", "in_9", "acme")
    with pytest.raises(ValueError, match=r"name no event type"):
        stripe_event({"id": "evt_1"})


def test_sender_event_refuses_an_unknown_sender() -> None:
    with pytest.raises(ValueError, match=r"unknown sender 'nosuch'.*github"):
        sender_event("nosuch", {})


def test_gateway_config_extracts_the_trigger_variables() -> None:
    gateway = ROOT / "examples" / "gateway.yaml"
    body = {"ref": "refs/heads/main", "repository": {"full_name": "acme/app"}}
    event = github_event("push", body, gateway=gateway, trigger="github")
    assert event.variables == {"ref": "refs/heads/main", "repository": "acme/app"}
    assert (event.tenant, event.trigger, event.source) == ("acme", "github", "/hookgate/github")
    assert github_event("ping", {"zen": "x"}, gateway=gateway).variables == {}
    extra = github_event("push", body, gateway=gateway, variables={"env": "prod"})
    assert extra.variables["env"] == "prod"
    with pytest.raises(ValueError, match=r"no trigger named 'gitlab'.*github"):
        github_event("push", body, gateway=gateway, trigger="gitlab")


class Push(BaseModel):
    ref: str


def app_under_test() -> Consumer:
    app = Consumer("team")

    @app.workflow("deploy", match=match.type("com.github.push") & match.var("ref", "refs/heads/main"), model=Push)
    async def deploy(event: Event, push: Push) -> str:
        return f"deployed {push.ref}"

    @app.workflow("busy", match=match.type("com.github.push"))
    async def busy(event: Event) -> None:
        raise Retry("lock held", after=5)

    @app.workflow("refuse", match=match.type("com.github.push"))
    async def refuse(event: Event) -> None:
        raise Fail("no such environment", permanent=True)

    @app.workflow("bug", match=match.type("com.github.push"))
    async def bug(event: Event) -> None:
        raise KeyError("repository")

    @app.workflow("releases", match=match.type("com.github.release"))
    async def releases(event: Event) -> None:
        raise AssertionError("never runs for a push")

    return app


def test_run_reports_every_workflow() -> None:
    event = github_event("push", {"ref": "refs/heads/main"}, variables={"ref": "refs/heads/main"})
    result = run_sync(app_under_test(), event)
    assert result.event is event
    assert result.matched == ["deploy", "busy", "refuse", "bug"]
    assert result.succeeded == ["deploy"]
    assert result.failed == ["busy", "refuse", "bug"]
    deploy = result["deploy"]
    assert deploy.ran
    assert deploy.succeeded
    assert deploy.returned == "deployed refs/heads/main"
    assert deploy.match == "type is com.github.push and vars.ref is refs/heads/main"
    busy = result["busy"]
    assert busy.retry is not None
    assert busy.retry.after == 5
    assert busy.will_retry
    assert not busy.dead_lettered
    assert busy.action is not None
    assert busy.action.retry_after == 5
    refuse = result["refuse"]
    assert refuse.fail is not None
    assert refuse.dead_lettered
    assert refuse.error == "no such environment"
    bug = result["bug"]
    assert isinstance(bug.raised, KeyError)
    assert bug.error == "KeyError: 'repository'"
    releases = result["releases"]
    assert not releases.matched
    assert not releases.ran
    assert releases.action is None
    assert str(releases) == "releases: not matched"
    assert "refuse: dead-lettered at once (no such environment)" in str(result)
    with pytest.raises(KeyError, match="no workflow 'nope'; the app has deploy, busy"):
        result["nope"]


def test_a_payload_that_fails_its_model_is_reported_and_never_runs() -> None:
    event = github_event("push", {"after": "x"}, variables={"ref": "refs/heads/main"})
    deploy = run_sync(app_under_test(), event)["deploy"]
    assert deploy.matched
    assert not deploy.ran
    assert deploy.invalid is not None
    assert deploy.dead_lettered
    assert "ref: Field required" in (deploy.error or "")


def test_without_the_variable_the_workflow_does_not_match() -> None:
    # The trap the docs warn about: a trigger that extracts no ref never matches match.var("ref", ...).
    assert "deploy" not in run_sync(app_under_test(), github_event("push", {"ref": "refs/heads/main"})).matched


async def test_run_awaits_in_a_running_loop_and_accepts_an_envelope() -> None:
    env = Envelope(id="e", source="/s", type="com.github.push", data=b'{"ref": "x"}')
    result = await run(app_under_test(), env)
    assert result.event.envelope is env
    assert result.matched == ["busy", "refuse", "bug"]
    with pytest.raises(RuntimeError, match=r"await hookgate\.testing\.run"):
        run_sync(app_under_test(), env)


def test_several_apps_and_their_name_clashes() -> None:
    other = Consumer("other")

    @other.workflow("audit")
    async def audit(event: Event) -> None:
        return None

    result = run_sync([app_under_test(), other], make_event(type="com.github.release"))
    assert result.matched == ["releases", "audit"]
    with pytest.raises(ValueError, match="registered twice"):
        run_sync([other, other], make_event(type="t"))


def test_the_pytest_plugin_fixtures(tmp_path: Path) -> None:
    # A team's project as pytest sees it: the plugin comes from hookgate's pytest11 entry point.
    (tmp_path / "teamhandlers.py").write_text(
        textwrap.dedent(
            """
            from hookgate.consumer import Consumer, Event, match

            app = Consumer("team")
            other = Consumer("other")

            @app.workflow("deploy", match=match.type("com.github.push"))
            async def deploy(event: Event) -> str:
                return event.id

            @other.workflow("audit")
            async def audit(event: Event) -> None:
                return None
            """
        )
    )
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nhookgate_app = "teamhandlers:app"\n')
    (tmp_path / "test_team.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from hookgate.testing import github_event

            def test_default_app(hookgate_app, run_workflows):
                assert hookgate_app.name == "team"
                result = run_workflows(github_event("push", {}, delivery="d-1"))
                assert result["deploy"].returned == "d-1"

            @pytest.mark.hookgate_app("teamhandlers:other")
            def test_marked_app(run_workflows):
                assert run_workflows(github_event("push", {})).matched == ["audit"]

            @pytest.mark.hookgate_app("teamhandlers:missing")
            def test_bad_spec(hookgate_app):
                pass
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert "2 passed" in out, out
    assert "teamhandlers:missing: missing is not a hookgate.consumer.Consumer" in out, out


def test_yaml_matches_names_the_yaml_workflows_an_event_goes_to(tmp_path: Path) -> None:
    gateway = ROOT / "examples" / "gateway.yaml"
    main = github_event("push", {"ref": "refs/heads/main", "repository": {"full_name": "acme/app"}}, gateway=gateway)
    assert yaml_matches(ROOT / "examples" / "consumer.yaml", main) == {
        "deploy": "type is com.github.push and tenant is acme and vars.ref is refs/heads/main",
        "audit-everything": "tenant is acme",
    }
    dev = github_event("push", {"ref": "refs/heads/dev"}, gateway=gateway)
    assert list(yaml_matches(ROOT / "examples" / "consumer.yaml", dev)) == ["audit-everything"]
    (tmp_path / "c.yaml").write_text(
        "consumer: {group_id: g, topics: [hookgate.acme]}\n"
        "workflows:\n"
        "  - {name: only-acme, topics: [hookgate.acme], action: {type: http, url: 'http://127.0.0.1:9/x'}}\n"
    )
    assert list(yaml_matches(tmp_path / "c.yaml", dev, topic="hookgate.acme")) == ["only-acme"]
    assert yaml_matches(tmp_path / "c.yaml", dev, topic="hookgate.globex") == {}
    with pytest.raises(TypeError, match="consumer config file path or a ConsumerConfig"):
        yaml_matches(42, dev)
