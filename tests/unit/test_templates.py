"""The gateway's templates for type, subject and key: its sources, defaults, errors (grammar: test_core_templates)."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict, MultiDict

from hookgate.core.jsonpath import NOT_JSON
from hookgate.gateway.shaping.bodies import InvalidBody, ParsedBody, media_type, parse_body
from hookgate.gateway.shaping.templates import Template, TemplateError, TemplateValues

VALUES = TemplateValues(
    builtins={"tenant": "acme", "trigger": "gh", "id": "e1", "type": "com.github.push", "subject": ""},
    variables={"action": "opened", "repo": "acme/api"},
    headers=CIMultiDict({"X-GitHub-Event": "pull_request"}),
    query=MultiDict([("env", "prod"), ("env", "dev")]),
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{tenant}", "acme"),
        ("static", "static"),
        ("", ""),
        ("com.github.{header.X-GitHub-Event}.{vars.action}", "com.github.pull_request.opened"),
        ("{header.x-github-event}", "pull_request"),
        ("{query.env}", "prod"),
        ("{tenant}/{vars.repo}#{id}", "acme/acme/api#e1"),
        ("{vars.missing}", ""),
        ("{vars.missing|default:none}", "none"),
        ("{subject|default:-}", "-"),  # an empty value counts as none
        ("{vars.action|default:x}", "opened"),
        ("{{literal}} {type}", "{literal} com.github.push"),
        ("{ tenant }", "acme"),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert Template(source).render(VALUES) == expected


def test_parts_and_variables() -> None:
    t = Template("a.{vars.x}.{header.H|default:d}.{tenant}")
    assert [p if isinstance(p, str) else (p.source, p.default) for p in t.parts] == [
        "a.",
        ("vars.x", None),
        ".",
        ("header.H", "d"),
        ".",
        ("tenant", None),
    ]
    assert t.variables == {"x"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("{vars.action|none}", "{vars.action|default:none}"),
        ("{subject|-}", "{subject|default:-}"),
        ("{$.action|unparsed}", "{$.action|default:unparsed}"),
    ],
)
def test_the_old_default_form_is_refused_with_the_new_spelling(old: str, new: str) -> None:
    # Before the grammar was one, the gateway read {x|TEXT} and consumers {x|default:TEXT}.
    with pytest.raises(TemplateError) as err:
        Template(f"com.github.{old}")
    assert f"a default is written {new}" in str(err.value)
    assert Template(f"com.github.{new}").render(VALUES).startswith("com.github.")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{nope}", "unknown placeholder {nope}"),
        ("{vars.}", "unknown placeholder"),
        ("{env.HOME}", "unknown placeholder"),
        ("{$.[[[}", "not a valid JSONPath"),
        ("{__class__}", "unknown placeholder"),
        ("open {", "unmatched '{'"),
        ("close }", "unmatched '}'"),
        ("{data.$.a}", r"unknown placeholder \{data\.\$\.a\}"),  # a consumer's source, not the gateway's
        ("{attr.type}", "unknown placeholder"),
        ("{a{b}", "unmatched"),
    ],
)
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template(source)


def test_no_evaluation_of_values() -> None:
    values = TemplateValues(variables={"x": "{tenant}"}, builtins={"tenant": "acme"})
    assert Template("{vars.x}").render(values) == "{tenant}"


def test_header_values_that_are_not_utf8_are_made_valid() -> None:
    values = TemplateValues(headers=CIMultiDict({"X-E": "caf\udce9"}))
    assert Template("t.{header.X-E}").render(values) == "t.caf\ufffd"


def test_jsonpath_placeholders_read_the_body() -> None:
    parsed = parse_body(b'{"action": "opened", "n": 3, "tags": ["a", "b"]}', media_type("application/json"))
    values = TemplateValues(headers=CIMultiDict({"X-GitHub-Event": "pull_request"}), body=parsed)
    t = Template("com.github.{header.X-GitHub-Event}.{$.action}")
    assert t.reads_body
    assert t.render(values) == "com.github.pull_request.opened"
    assert Template("{$.n}/{$.tags}/{$.missing|default:none}").render(values) == '3/["a","b"]/none'
    assert Template("{$.action|default:unparsed}").render(TemplateValues()) == "unparsed"
    assert not Template("{vars.x}").reads_body


def test_jsonpath_placeholders_never_read_a_json_string_as_a_document() -> None:
    parsed = parse_body(rb'"{\"action\": \"injected\"}"', media_type("application/json"))
    assert Template("t.{$.action|default:none}").render(TemplateValues(body=parsed)) == "t.none"
    assert Template("{$}").render(TemplateValues(body=parsed)) == '{"action": "injected"}'


def test_a_body_too_deep_for_a_jsonpath_placeholder_is_invalid() -> None:
    # The body parser refuses such a body first (MAX_BODY_DEPTH); the template stands on its own too.
    parsed = ParsedBody(kind="json", json=orjson.loads(b'{"a":' * 150 + b"1" + b"}" * 150), has_json=True)
    with pytest.raises(InvalidBody, match="nests too deeply"):
        Template("{$..a}").render(TemplateValues(body=parsed))


def test_the_values_are_the_facts_the_filter_reads() -> None:
    parsed = parse_body(b'{"a": 1}', media_type("application/json"))
    values = TemplateValues({"type": "t", "subject": ""}, {"x": "1"}, body=parsed)
    assert (values.attribute("type"), values.attribute("subject"), values.attribute("nope")) == ("t", None, None)
    assert values.document == {"a": 1}
    assert TemplateValues().document is NOT_JSON
