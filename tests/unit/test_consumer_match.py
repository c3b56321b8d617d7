"""Subscription matching: every operator, the combinators, vars, JSONPath, the YAML grammar and its errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hookgate.consumer import match
from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.event import Event, event_of
from hookgate.consumer.workflows.match_config import MatchConfig
from hookgate.consumer.workflows.subscriptions import WorkflowConfig
from hookgate.consumer.workflows.workflow import WorkflowSet
from hookgate.core.config import ConfigError, load_model
from hookgate.core.envelope import Envelope

PUSH = {
    "ref": "refs/heads/main",
    "deleted": False,
    "repository": {"full_name": "acme/api", "stars": 42, "topics": ["deploy", "go"]},
    "commits": [{"author": "ana", "message": "fix"}, {"author": "bo", "message": "feat"}],
}


def envelope(
    *,
    type: str = "com.github.push",
    tenant: str | None = "acme",
    subject: str | None = None,
    data: Any = PUSH,
    variables: dict[str, Any] | None = None,
    **extensions: str,
) -> Envelope:
    ext = dict(extensions)
    if tenant is not None:
        ext["tenant"] = tenant
    ext.setdefault("trigger", "github")
    if variables is not None:
        ext["vars"] = orjson.dumps(variables).decode()
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return Envelope(
        id="ev-1",
        source="/hookgate/github",
        type=type,
        data=body,
        subject=subject,
        datacontenttype="application/json",
        extensions=ext,
    )


def yaml_match(data: dict[str, Any]) -> MatchConfig:
    return load_model(MatchConfig, data, "<test>", env={})


def matches(spec: dict[str, Any], event: Envelope) -> bool:
    return yaml_match(spec).predicate()(event)


class TestOperators:
    @pytest.mark.parametrize(
        ("cond", "expected"),
        [
            ("com.github.push", True),
            ("com.github.pull_request", False),
            ("com.github.*", True),  # compact prefix
            ("com.gitlab.*", False),
            (["com.github.issues", "com.github.push"], True),  # compact "in"
            ({"equals": "com.github.push"}, True),
            ({"in": ["a", "b"]}, False),
            ({"prefix": "com.github."}, True),
            ({"suffix": ".push"}, True),
            ({"suffix": ".pull"}, False),
            ({"glob": "com.*.push"}, True),
            ({"glob": "com.?.push"}, False),
            ({"regex": r"github\.(push|release)$"}, True),
            ({"regex": r"^github"}, False),  # searched, so anchors mean what they say
            ({"regex": r"github\.push"}, True),
            ({"fullmatch": r"com\.github\.(push|release)"}, True),  # the whole value
            ({"fullmatch": r"github\.push"}, False),
            ({"glob": ["com.gitlab.*", "com.github.*"]}, True),  # a list of globs: any
            ({"exists": True}, True),
            ({"exists": False}, False),
            ({"prefix": "com.", "suffix": ".push"}, True),  # several operators: all must hold
            ({"prefix": "com.", "suffix": ".pull"}, False),
        ],
    )
    def test_each_operator_on_an_attribute(self, cond: Any, expected: bool) -> None:
        assert matches({"type": cond}, envelope()) is expected

    def test_an_equals_that_ends_in_a_star_is_literal(self) -> None:
        assert matches({"subject": {"equals": "a*"}}, envelope(subject="a*"))
        assert not matches({"subject": {"equals": "a*"}}, envelope(subject="ab"))
        assert matches({"subject": "a*"}, envelope(subject="ab"))

    def test_absent_attribute_matches_only_exists_false(self) -> None:
        ev = envelope(subject=None)
        assert matches({"subject": {"exists": False}}, ev)
        assert not matches({"subject": {"exists": True}}, ev)
        assert not matches({"subject": {"regex": ".*"}}, ev)
        assert not matches({"subject": {"prefix": ""}}, ev)

    def test_core_attributes_and_extensions(self) -> None:
        ev = envelope(subject="refs/tags/v1.2", priority="high")
        assert matches({"source": "/hookgate/*", "trigger": "github", "tenant": "acme", "id": "ev-1"}, ev)
        assert matches({"subject": {"regex": r"^refs/tags/v\d+"}}, ev)
        assert matches({"extensions": {"priority": "high"}}, ev)
        assert not matches({"extensions": {"priority": "low"}}, ev)
        assert not matches({"extensions": {"region": {"exists": True}}}, ev)

    def test_the_legacy_simple_form_still_works(self) -> None:
        spec = {"tenant": "acme", "type": "com.github.push"}
        assert matches(spec, envelope())
        assert not matches(spec, envelope(tenant="globex"))
        assert not matches(spec, envelope(type="com.github.issues"))
        assert matches({}, envelope())  # empty match = every event


class TestVariables:
    def test_equality_prefix_and_regex(self) -> None:
        ev = envelope(variables={"ref": "refs/heads/main", "pr": 7, "draft": False})
        assert matches({"vars": {"ref": "refs/heads/main"}}, ev)
        assert matches({"vars": {"ref": "refs/heads/*"}}, ev)
        assert not matches({"vars": {"ref": "refs/tags/*"}}, ev)
        assert matches({"vars": {"ref": {"regex": "main$"}}}, ev)
        assert matches({"vars": {"pr": 7}}, ev)
        assert matches({"vars": {"pr": "7"}}, ev)  # a string in YAML compares by text
        assert matches({"vars": {"draft": False}}, ev)
        assert not matches({"vars": {"draft": 0}}, ev)  # false is not 0

    def test_missing_variable_and_missing_vars(self) -> None:
        assert not matches({"vars": {"ref": "x"}}, envelope(variables={}))
        assert not matches({"vars": {"ref": "x"}}, envelope(variables=None))
        assert matches({"vars": {"ref": {"exists": False}}}, envelope(variables=None))

    def test_sdk_var(self) -> None:
        ev = envelope(variables={"ref": "refs/heads/main"})
        assert match.var("ref", "refs/heads/main")(ev)
        assert match.var("ref", prefix="refs/heads/")(ev)
        assert not match.var("ref", "refs/heads/dev")(ev)
        assert match.var("env", exists=False)(ev)


class TestJsonPath:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            ({"$.repository.full_name": "acme/api"}, True),
            ({"$.repository.full_name": {"glob": "acme/*"}}, True),
            ({"$.repository.full_name": "globex/api"}, False),
            ({"$.repository.stars": 42}, True),
            ({"$.repository.stars": 42.0}, True),
            ({"$.repository.stars": "42"}, True),
            ({"$.deleted": False}, True),
            ({"$.deleted": True}, False),
            ({"$.repository.topics[*]": "deploy"}, True),  # one node of many satisfies
            ({"$.repository.topics[*]": "rust"}, False),
            ({"$.commits[?@.author == 'bo'].message": "feat"}, True),  # filter expressions
            ({"$.commits[?@.author == 'cy']": {"exists": True}}, False),
            ({"$.nope": {"exists": False}}, True),
            ({"$.nope": {"exists": True}}, False),
            ({"$.repository": {"exists": True}}, True),
        ],
    )
    def test_predicates_over_the_body(self, spec: dict[str, Any], expected: bool) -> None:
        assert matches({"data": spec}, envelope()) is expected

    def test_a_body_that_is_not_json_matches_nothing_but_absence(self) -> None:
        ev = envelope(data=b"<xml/>")
        assert not matches({"data": {"$.a": {"exists": True}}}, ev)
        assert matches({"data": {"$.a": {"exists": False}}}, ev)

    def test_a_json_string_body_is_never_read_as_a_document(self) -> None:
        ev = envelope(data=rb'"{\"a\": \"injected\"}"')
        assert not matches({"data": {"$.a": {"exists": True}}}, ev)
        assert matches({"data": {"$": '{"a": "injected"}'}}, ev)

    def test_a_body_too_deep_to_search_matches_nothing_and_never_raises(self) -> None:
        ev = envelope(data=b'{"a":' * 120 + b'{"id": 1}' + b"}" * 120)
        assert not matches({"data": {"$..id": {"exists": True}}}, ev)
        assert matches({"data": {"$.a.a": {"exists": True}}}, ev)

    def test_a_scalar_body_has_only_a_root(self) -> None:
        assert matches({"data": {"$": "hello"}}, envelope(data="hello"))
        assert not matches({"data": {"$.a": {"exists": True}}}, envelope(data="hello"))

    def test_the_body_is_parsed_once_and_only_when_needed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import hookgate.consumer.workflows.event as event_module

        calls = []
        real = orjson.loads

        def counting(data: bytes) -> Any:
            calls.append(1)
            return real(data)

        monkeypatch.setattr(event_module.orjson, "loads", counting)
        ev = envelope()
        on_attrs = match.type("com.github.push") & match.tenant("acme")
        assert on_attrs(ev)
        assert calls == []
        body1 = match.data("$.repository.full_name", "acme/api")
        body2 = match.data("$.ref", prefix="refs/")
        assert body1(ev)
        assert body2(ev)
        assert event_of(ev).json()["ref"] == "refs/heads/main"
        assert len(calls) == 1


class TestCombinators:
    def test_yaml_any_all_not(self) -> None:
        ev = envelope(tenant="globex")
        assert matches({"any": [{"tenant": "acme"}, {"tenant": "globex"}]}, ev)
        assert not matches({"all": [{"tenant": "globex"}, {"type": "x"}]}, ev)
        assert matches({"all": [{"tenant": "globex"}, {"type": "com.github.*"}]}, ev)
        assert not matches({"not": {"tenant": "globex"}}, ev)
        assert matches({"not": {"data": {"$.deleted": True}}}, ev)
        nested = {
            "type": "com.github.push",
            "any": [{"vars": {"ref": "refs/heads/main"}}, {"not": {"data": {"$.repository.stars": {"exists": True}}}}],
        }
        assert not matches(nested, ev)  # no vars, and stars exists
        assert matches(nested, envelope(variables={"ref": "refs/heads/main"}))

    def test_sdk_operators(self) -> None:
        ev = envelope(subject="release/1")
        assert (match.type("com.github.push") & match.subject(regex="^release/"))(ev)
        assert (match.type("x") | match.subject("release/*"))(ev)
        assert not (~match.tenant("acme"))(ev)
        assert match.all_of(match.tenant(["acme", "globex"]), match.not_(match.type("y")))(ev)
        assert not match.any_of(match.tenant("globex"), match.trigger("stripe"))(ev)
        assert match.everything()(ev)
        assert match.source(glob="/hookgate/*")(ev)
        assert match.attr("trigger", "github")(ev)
        assert match.subject()(ev)  # no operator: the attribute exists
        assert not match.subject()(envelope(subject=None))

    def test_yaml_and_sdk_agree(self) -> None:
        yaml = yaml_match({"type": "com.github.*", "vars": {"ref": "refs/heads/main"}, "not": {"tenant": "globex"}})
        sdk = match.type("com.github.*") & match.var("ref", "refs/heads/main") & ~match.tenant("globex")
        for ev in (
            envelope(variables={"ref": "refs/heads/main"}),
            envelope(variables={"ref": "refs/heads/dev"}),
            envelope(tenant="globex", variables={"ref": "refs/heads/main"}),
            envelope(type="com.gitlab.push", variables={"ref": "refs/heads/main"}),
        ):
            assert yaml.predicate()(ev) is sdk(ev)


def workflow(**fields: Any) -> WorkflowConfig:
    return load_model(
        WorkflowConfig, {"name": "wf", "action": {"url": "http://127.0.0.1:9/x"}, **fields}, "<t>", env={}
    )


class TestWorkflowFilters:
    def test_tenants_filter(self) -> None:
        p = workflow(tenants=["acme", "initech"]).predicate()
        assert p(envelope(tenant="acme"))
        assert not p(envelope(tenant="globex"))
        assert not p(envelope(tenant=None))

    def test_topics_filter_applies_in_select(self) -> None:
        from hookgate.consumer.workflows.subscriptions import build_workflows

        configs = [
            workflow(name="a", topics=["hookgate.acme"]),
            workflow(name="b", topics=["hookgate.*"]),
            workflow(name="c"),
        ]
        ws = WorkflowSet(build_workflows(configs, HttpClients()))  # no I/O: pools connect on first request
        ev = envelope()
        assert [w.name for w in ws.select(ev, topic="hookgate.acme")] == ["a", "b", "c"]
        assert [w.name for w in ws.select(ev, topic="hookgate.globex")] == ["b", "c"]
        assert [w.name for w in ws.select(ev, topic="other.acme")] == ["c"]


class TestValidation:
    @pytest.mark.parametrize(
        ("spec", "path", "words"),
        [
            ({"tpye": "x"}, "match.tpye", "unknown key"),
            ({"type": {"regex": "("}}, "match.type.regex", "regular expression"),
            ({"type": {"regex": "^(?!com\\.gitlab)"}}, "match.type.regex", "negate with `not`"),
            ({"subject": {"fullmatch": "(v)\\1"}}, "match.subject.fullmatch", "no backreferences"),
            ({"data": {"$[?@.a =~ /(?=x)/]": "x"}}, "match.data", "lookahead"),
            ({"type": {"regexp": "x"}}, "match.type.regexp", "unknown key"),
            ({"type": {}}, "match.type", "at least one"),
            ({"any": [{"tenant": "a"}, {"subject": {"regex": "[a-"}}]}, "match.any[1].subject.regex", "regular"),
            ({"not": {"vars": {"ref": {"exists": "maybe"}}}}, "match.not.vars.ref.exists", "bool"),
            ({"data": {"repository.name": "x"}}, "match.data", "starts with '$'"),
            ({"data": {"$.[": "x"}}, "match.data", "JSONPath"),
            ({"extensions": {"Bad-Name": "x"}}, "match.extensions", "extension names"),
            ({"any": []}, "match.any", "at least 1"),
        ],
    )
    def test_errors_name_the_key_path(self, spec: dict[str, Any], path: str, words: str) -> None:
        with pytest.raises(ConfigError) as err:
            workflow(match=spec)
        line = next(ln for ln in str(err.value).splitlines() if ln.strip().startswith(path + ":"))
        assert words in line

    def test_regex_is_compiled_once_at_load(self) -> None:
        p = yaml_match({"subject": {"regex": "^a+$"}}).predicate()
        assert p.cond.regex is not None  # type: ignore[attr-defined]
        assert p.cond.regex.pattern == "^a+$"  # type: ignore[attr-defined]

    def test_a_catastrophic_regex_matches_in_linear_time(self) -> None:
        hostile = "a" * 100_000 + "!"
        assert not matches({"subject": {"regex": "(a+)+$"}}, envelope(subject=hostile))
        assert not match.data("$.s", regex="(a+)+$")(envelope(data={"s": hostile}))
        assert match.var("s", fullmatch="(a+)+")(envelope(variables={"s": hostile[:-1]}))

    def test_sdk_patterns_are_checked_when_built(self) -> None:
        with pytest.raises(ValueError, match="no lookbehind"):
            match.subject(regex="(?<=v)1")
        with pytest.raises(ValueError, match="not a valid JSONPath"):
            match.data("$.[[", True)


def test_event_view_exposes_attributes_and_variables() -> None:
    ev = Event(envelope(subject="s", variables={"ref": "r"}, priority="high"))
    assert (ev.id, ev.type, ev.tenant, ev.trigger, ev.subject) == ("ev-1", "com.github.push", "acme", "github", "s")
    assert ev.attribute("priority") == "high"
    assert ev.attribute("specversion") == "1.0"
    assert ev.attribute("nope") is None
    assert ev.variables == {"ref": "r"}
    assert ev.json()["repository"]["full_name"] == "acme/api"
    with pytest.raises(ValueError, match="not JSON"):
        Event(envelope(data=b"plain")).json()
