"""Templates for type, subject and key: syntax, lookups, defaults, errors."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from hookgate.gateway.shaping.bodies import media_type, parse_body
from hookgate.gateway.shaping.templates import Placeholder, Template, TemplateError, TemplateValues

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
        ("{vars.missing|none}", "none"),
        ("{subject|-}", "-"),
        ("{vars.action|x}", "opened"),
        ("{{literal}} {type}", "{literal} com.github.push"),
        ("{ tenant }", "acme"),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert Template(source).render(VALUES) == expected


def test_parts_and_variables() -> None:
    t = Template("a.{vars.x}.{header.H|d}.{tenant}")
    assert t.parts == (
        "a.",
        Placeholder("vars", "x"),
        ".",
        Placeholder("header", "H", "d"),
        ".",
        Placeholder("builtin", "tenant"),
    )
    assert t.variables == {"x"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{nope}", "unknown placeholder {nope}"),
        ("{vars.}", "unknown placeholder"),
        ("{env.HOME}", "unknown placeholder"),
        ("{$.[[[}", "JSONPath does not compile"),
        ("{__class__}", "unknown placeholder"),
        ("open {", "unmatched '{'"),
        ("close }", "unmatched '}'"),
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
    assert Template("{$.n}/{$.tags}/{$.missing|none}").render(values) == '3/["a","b"]/none'
    assert Template("{$.action|unparsed}").render(TemplateValues()) == "unparsed"
    assert not Template("{vars.x}").reads_body
