"""The one JSONPath implementation: what paths select, strings never re-read as JSON, RE2, depth, errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hookgate.core.config import ConfigError, StrictModel, load_model
from hookgate.core.jsonpath import (
    MAX_DEPTH,
    NOT_JSON,
    JsonPath,
    JsonPathError,
    JsonPathField,
    compile_jsonpath,
    text_of,
)

PUSH = orjson.loads(
    b'{"ref": "refs/heads/main", "deleted": false, "n": null,'
    b' "repository": {"full_name": "acme/api", "topics": ["deploy", "go"]},'
    b' "commits": [{"author": "ana", "message": "fix"}, {"author": "bo", "message": "feat"}]}'
)


def find(path: str, document: Any) -> list[Any]:
    return compile_jsonpath(path).find(document)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.ref", ["refs/heads/main"]),
        ("$.deleted", [False]),
        ("$.n", [None]),
        ("$.nope", []),
        ("$.repository.topics[*]", ["deploy", "go"]),
        ("$.repository.topics[-1]", ["go"]),
        ("$.commits[?@.author == 'bo'].message", ["feat"]),
        ("$..author", ["ana", "bo"]),
        ("$.ref | $.repository.full_name", ["refs/heads/main", "acme/api"]),
        ("$.commits[?length(@.message) > 3].author", ["bo"]),
    ],
)
def test_paths_select_nodes(path: str, expected: list[Any]) -> None:
    assert find(path, PUSH) == expected


def test_a_json_string_body_is_never_read_as_a_document() -> None:
    # The body "{\"a\": \"injected\"}" parses to a str; python-jsonpath alone would json.loads() it again.
    document = orjson.loads(b'"{\\"a\\": \\"injected\\"}"')
    assert document == '{"a": "injected"}'
    assert find("$.a", document) == []
    assert find("$..a", document) == []
    assert find("$['a']", document) == []
    assert find("$", document) == ['{"a": "injected"}']
    assert find("$.a | $", document) == ['{"a": "injected"}']
    assert find("$[?@ == 'x']", "x") == []  # a string has no children to filter
    assert find("$.a", '[{"a": 1}]') == []


def test_other_scalar_documents_have_only_a_root() -> None:
    assert find("$", 7) == [7]
    assert find("$", None) == [None]
    assert find("$.a", 7) == []
    assert find("$[0]", True) == []


def test_a_body_that_is_not_json_selects_nothing() -> None:
    assert find("$", NOT_JSON) == []
    assert find("$.a", NOT_JSON) == []


def test_regexes_in_filter_expressions_run_on_re2() -> None:
    hostile = [{"a": "a" * 100_000 + "!"}, {"a": "aaa"}]
    assert find("$[?@.a =~ /(a+)+$/].a", hostile) == ["aaa"]
    assert find("$[?match(@.a, '(a+)+$')].a", hostile) == ["aaa"]
    assert find("$[?search(@.a, '(a+)+$')].a", hostile) == ["aaa"]
    assert find("$[?match(@.a, 'A+')].a", [{"a": "AA"}, {"a": "xAA"}]) == ["AA"]  # match() is anchored
    assert find("$[?search(@.a, 'A+')].a", [{"a": "AA"}, {"a": "xAA"}]) == ["AA", "xAA"]
    assert find("$[?@.a =~ /a+/i].a", [{"a": "AA"}, {"a": "b"}]) == ["AA"]
    # RFC 9535: a pattern that does not compile (here: a backreference) makes match() false, not an error.
    assert find("$[?match(@.a, '(a)\\\\1')]", [{"a": "aa"}]) == []


def test_descent_is_bounded_and_too_deep_is_our_error() -> None:
    def nested(depth: int) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": 0}
        for i in range(1, depth):
            doc = {"a": doc, "id": i}
        return doc

    assert len(find("$..id", nested(MAX_DEPTH))) == MAX_DEPTH
    with pytest.raises(JsonPathError, match=r"\$\.\.id: cannot search this document"):
        find("$..id", nested(MAX_DEPTH + 1))
    assert find("$.a.id", nested(500)) == [498]  # child segments do not descend


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("repository.name", "starts with '$'"),
        ("", "starts with '$'"),
        ("$.[[[", "not a valid JSONPath"),
        ("$[?@.a =~ /(?<=x)y/]", "lookbehind"),
        ("$[?@.a =~ /x/a]", "flag 'a'"),
        ("$[?nope(@.a)]", "not a valid JSONPath"),
    ],
)
def test_bad_paths_fail_to_compile(path: str, words: str) -> None:
    with pytest.raises(JsonPathError) as err:
        compile_jsonpath(path)
    assert words in str(err.value)


def test_text_of() -> None:
    assert text_of("a") == "a"
    assert text_of(True) == "true"
    assert text_of(None) == "null"
    assert text_of({"a": [1, 2]}) == '{"a":[1,2]}'
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(JsonPathError, match="cannot be written as JSON text"):
        text_of(deep)


def test_is_root_and_identity() -> None:
    assert compile_jsonpath("$").is_root
    assert not compile_jsonpath("$.a").is_root
    assert compile_jsonpath("$.a") == compile_jsonpath("$.a")
    assert str(compile_jsonpath("$.a")) == "$.a"


class _Model(StrictModel):
    path: JsonPathField


def test_the_config_type_compiles_at_load_and_names_the_key_path() -> None:
    model = load_model(_Model, {"path": "$.a"}, "<t>", env={})
    assert isinstance(model.path, JsonPath)
    assert model.path.find({"a": 1}) == [1]
    with pytest.raises(ConfigError, match="  path: Value error, not a valid JSONPath"):
        load_model(_Model, {"path": "$.[["}, "<t>", env={})
