"""The one predicate engine, on its own small Facts: sources, operators, combinators, errors never raised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from hookgate.core.conditions import Operators, compact
from hookgate.core.config import ConfigError, load_model
from hookgate.core.jsonpath import NOT_JSON
from hookgate.core.predicates import (
    AllOf,
    AnyOf,
    Attribute,
    Body,
    Condition,
    Everything,
    Facts,
    Not,
    Predicate,
    Variable,
    facts_of,
)
from hookgate.core.regex import compile_glob, compile_regex


@dataclass
class Known:
    """Facts held in memory, as a unit test's stand-in for a shaped request or an event."""

    attributes: dict[str, str] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    document: Any = NOT_JSON

    def attribute(self, name: str) -> str | None:
        return self.attributes.get(name)


def cond(spec: Any) -> Condition:
    return load_model(Operators, compact(spec), "<t>", env={}).condition()


def holds(spec: Any, value: Any) -> bool:
    return Variable("v", cond(spec)).test(Known(variables={"v": value}))


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("main", "main", True),
        ("main", "mainline", False),
        ("refs/*", "refs/heads/main", True),  # compact prefix
        (["a", "b"], "b", True),  # compact in
        ({"equals": 7}, "7", True),  # text compares with a number by text
        ({"equals": True}, 1, False),  # true is not 1
        ({"in": ["x", 2]}, 2, True),
        ({"prefix": "re", "suffix": "in"}, "refs/heads/main", True),
        ({"suffix": "x"}, "main", False),
        ({"glob": "refs/*/main"}, "refs/heads/main", True),
        ({"glob": ["a", "refs/*"]}, "refs/x", True),
        ({"glob": "refs/*"}, "xrefs/a", False),
        ({"regex": "heads/ma"}, "refs/heads/main", True),  # regex is searched
        ({"regex": "^heads"}, "refs/heads/main", False),
        ({"fullmatch": "main|release/.+"}, "main", True),
        ({"fullmatch": "main|release/.+"}, "main-old", False),  # fullmatch is anchored
        ({"fullmatch": "main|release/.+"}, "xmain", False),
        ({"regex": "main|release/.+"}, "main-old", True),
        ({"regex": '"a":1'}, {"a": 1}, True),  # string operators see compact JSON
        ({"exists": True}, "", True),
        ({"exists": False}, "x", False),
    ],
)
def test_operators(spec: Any, value: Any, expected: bool) -> None:
    assert holds(spec, value) is expected


def test_absent_values_satisfy_only_exists_false() -> None:
    nothing = Known()
    assert Variable("v", cond({"exists": False})).test(nothing)
    for spec in ({"exists": True}, {"regex": ".*"}, {"prefix": ""}, {"equals": None}, "x"):
        assert not Variable("v", cond(spec)).test(nothing)


def test_sources_read_their_facts() -> None:
    facts = Known(
        attributes={"type": "com.github.push"},
        variables={"ref": "refs/heads/main"},
        document={"labels": [{"name": "bug"}, {"name": "ui"}]},
    )
    assert Attribute("type", cond("com.github.*")).test(facts)
    assert not Attribute("subject", cond({"exists": True})).test(facts)
    assert Variable("ref", cond({"suffix": "/main"})).test(facts)
    assert Body("$.labels[*].name", cond("ui")).test(facts)  # one of several nodes suffices
    assert not Body("$.labels[*].name", cond("docs")).test(facts)
    assert Body("$.nope", cond({"exists": False})).test(facts)


def test_a_document_too_deep_to_search_selects_nothing_and_never_raises() -> None:
    doc: dict[str, Any] = {"id": 1}
    for _ in range(150):
        doc = {"a": doc}
    facts = Known(document=doc)
    assert not Body("$..id", cond({"exists": True})).test(facts)
    assert Body("$..id", cond({"exists": False})).test(facts)
    assert Body("$.a.a.a", cond({"exists": True})).test(facts)
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    assert not Body("$", cond({"regex": "x"})).test(Known(document=deep))  # too deep to write as text


def test_combinators_and_their_order() -> None:
    facts = Known(attributes={"tenant": "acme"}, variables={"ref": "main"}, document={"deleted": False})
    acme = Attribute("tenant", cond("acme"))
    main = Variable("ref", cond("main"))
    deleted = Body("$.deleted", cond(True))
    assert (acme & main & ~deleted).test(facts)
    assert (deleted | main).test(facts)
    assert not AnyOf([deleted, Not(acme)]).test(facts)
    assert Everything().test(facts)
    both = AllOf([deleted, main, acme])
    assert [type(p).__name__ for p in both.parts] == ["Attribute", "Variable", "Body"]  # cheap first
    assert isinstance(acme & (main & acme), AllOf)
    assert len((acme & (main & acme)).parts) == 3  # type: ignore[attr-defined]  # flattened
    assert "tenant == 'acme'" in repr(acme & main)


def test_predicates_call_on_anything_facts_of_knows() -> None:
    p: Predicate = Attribute("type", cond("x"))
    assert p(Known(attributes={"type": "x"}))
    assert isinstance(Known(), Facts)
    with pytest.raises(TypeError, match="a predicate tests Facts, not int"):
        p(3)
    assert facts_of(Known()) is not None


def test_conditions_compile_their_patterns_once_at_load() -> None:
    c = cond({"regex": "^a+$", "glob": "a*", "fullmatch": "a+"})
    assert c.regex == compile_regex("^a+$")
    assert c.glob == compile_glob("a*")
    assert c.fullmatch == compile_regex("a+")
    assert "regex '^a+$'" in c.describe()


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({}, "at least one of equals, in, prefix, suffix, glob, regex, fullmatch, exists"),
        ({"regex": "(?<=a)b"}, "  regex: Value error, not a valid regular expression"),
        ({"fullmatch": "(a)\\1"}, "  fullmatch: Value error, not a valid regular expression"),
        ({"glob": "[z-a]"}, "  glob: Value error, not a valid glob pattern"),
        ({"in": []}, "  in: List should have at least 1 item"),
        ({"regexp": "x"}, "  regexp: unknown key"),
    ],
)
def test_operator_errors_name_the_key(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_model(Operators, spec, "<t>", env={})
    assert words in str(err.value)
