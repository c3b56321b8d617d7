"""Variable extraction: each source, regex, default, missing values, limits, hostile bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, MultiDict
from pydantic import ValidationError

from hookgate.gateway.shaping.bodies import InvalidBody, ParsedBody, media_type, parse_body
from hookgate.gateway.shaping.extract import Extractor, RequestParts, VariableConfig


def extract(variables: dict[str, dict[str, Any]], parts: RequestParts) -> dict[str, str]:
    return Extractor({k: VariableConfig.model_validate(v) for k, v in variables.items()}).extract(parts)


def body(raw: bytes, content_type: str) -> RequestParts:
    return RequestParts(body=parse_body(raw, media_type(content_type)))


GITHUB = body(
    b'{"action": "opened", "number": 7, "draft": false, "pull_request": {"head": {"ref": "refs/heads/feat/x"}},'
    b' "labels": [{"name": "a"}, {"name": "b"}], "assignee": null, "repository": {"full_name": "acme/api"}}',
    "application/json",
)


def test_jsonpath_strings_numbers_booleans_objects() -> None:
    out = extract(
        {
            "action": {"jsonpath": "$.action"},
            "number": {"jsonpath": "$.number"},
            "draft": {"jsonpath": "$.draft"},
            "repo": {"jsonpath": "$.repository"},
            "labels": {"jsonpath": "$.labels[*].name"},
            "first_label": {"jsonpath": "$.labels[0].name"},
        },
        GITHUB,
    )
    assert out == {
        "action": "opened",
        "number": "7",
        "draft": "false",
        "repo": '{"full_name":"acme/api"}',
        "labels": '["a","b"]',
        "first_label": "a",
    }


def test_missing_and_null_are_absent_unless_defaulted() -> None:
    out = extract(
        {
            "assignee": {"jsonpath": "$.assignee"},
            "nothing": {"jsonpath": "$.no.such.key"},
            "fallback": {"jsonpath": "$.no.such.key", "default": "none"},
        },
        GITHUB,
    )
    assert out == {"fallback": "none"}


def test_regex_keeps_first_group_or_whole_match() -> None:
    out = extract(
        {
            "branch": {"jsonpath": "$.pull_request.head.ref", "regex": r"^refs/heads/(.+)$"},
            "prefix": {"jsonpath": "$.pull_request.head.ref", "regex": r"refs/\w+"},
            "nomatch": {"jsonpath": "$.action", "regex": r"^closed$"},
            "nomatch_default": {"jsonpath": "$.action", "regex": r"^closed$", "default": "other"},
        },
        GITHUB,
    )
    assert out == {"branch": "feat/x", "prefix": "refs/heads", "nomatch_default": "other"}


def test_headers_are_case_insensitive_query_and_path() -> None:
    parts = RequestParts(
        headers=CIMultiDict({"X-GitHub-Event": "push"}),
        query=MultiDict([("env", "prod"), ("env", "dev")]),
        path="/deploy/eu-west",
    )
    out = extract(
        {
            "event": {"header": "x-github-event"},
            "env": {"query": "env"},
            "region": {"path": True, "regex": r"^/deploy/([\w-]+)"},
            "whole_path": {"path": True},
            "absent": {"header": "X-Nope"},
        },
        parts,
    )
    assert out == {"event": "push", "env": "prod", "region": "eu-west", "whole_path": "/deploy/eu-west"}


def test_xpath_elements_attributes_and_functions() -> None:
    parts = body(
        b'<order id="42" xmlns:p="urn:p"><item>pen</item><item>ink</item><p:note>hi</p:note><total>9.5</total></order>',
        "application/xml",
    )
    out = extract(
        {
            "id": {"xpath": "/order/@id"},
            "items": {"xpath": "/order/item"},
            "first": {"xpath": "/order/item[1]/text()"},
            "count": {"xpath": "count(/order/item)"},
            "total": {"xpath": "number(/order/total)"},
            "has_items": {"xpath": "boolean(/order/item)"},
            "note": {"xpath": "/order/p:note", "namespaces": {"p": "urn:p"}},
            "missing": {"xpath": "/order/none"},
        },
        parts,
    )
    assert out == {
        "id": "42",
        "items": '["pen","ink"]',
        "first": "pen",
        "count": "2",
        "total": "9.5",
        "has_items": "true",
        "note": "hi",
    }


def test_form_fields_and_slack_payload() -> None:
    parts = body(
        b"token=t&team_domain=acme&payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D",
        "application/x-www-form-urlencoded",
    )
    out = extract(
        {"team": {"form": "team_domain"}, "type": {"jsonpath": "$.type"}, "user": {"jsonpath": "$.user.id"}}, parts
    )
    assert out == {"team": "acme", "type": "block_actions", "user": "U1"}


def test_body_variables_take_defaults_when_the_body_is_not_parsed_or_of_another_kind() -> None:
    variables = {
        "a": {"jsonpath": "$.a", "default": "d"},
        "x": {"xpath": "/a"},
        "f": {"form": "f"},
    }
    assert extract(variables, RequestParts(body=None)) == {"a": "d"}
    assert extract(variables, body(b"\x00\x01", "application/octet-stream")) == {"a": "d"}
    assert extract(variables, body(b'{"f": 1}', "application/json")) == {"a": "d"}


def test_reads_body() -> None:
    assert not Extractor({"e": VariableConfig(header="X-E")}).reads_body
    assert Extractor({"e": VariableConfig(header="X-E"), "f": VariableConfig(form="f")}).reads_body


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({}, "set exactly one of"),
        ({"jsonpath": "$.a", "header": "X"}, "set exactly one of"),
        ({"jsonpath": "$.[[["}, "not a valid JSONPath"),
        ({"jsonpath": "action"}, "a JSONPath starts with"),
        ({"xpath": "/a[["}, "xpath does not compile"),
        ({"header": "X", "regex": "(unclosed"}, "not a valid regular expression"),
        ({"header": "X", "regex": "^(?<=refs/)heads"}, "no lookbehind"),
        ({"header": "X", "namespaces": {"p": "urn:p"}}, "namespaces only apply to xpath"),
        ({"header": "X", "unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_declarations_fail_at_start_up(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        VariableConfig.model_validate(cfg)


def test_header_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    # aiohttp hands over non-UTF-8 header bytes as lone surrogates (surrogateescape)
    parts = RequestParts(headers=CIMultiDict({"X-Name": "caf\udce9", "X-Ok": "café"}))
    out = extract({"name": {"header": "X-Name"}, "ok": {"header": "X-Ok"}}, parts)
    assert out == {"name": "caf\ufffd", "ok": "café"}


def test_long_values_are_cut_to_max_length() -> None:
    parts = body(b'{"big": "' + b"x" * 5000 + b'", "list": [1, 2, 3]}', "application/json")
    out = extract({"big": {"jsonpath": "$.big"}, "list": {"jsonpath": "$.list", "max_length": 4}}, parts)
    assert out == {"big": "x" * 4096, "list": "[1,2"}


def test_the_regex_sees_the_value_after_max_length_cut_it() -> None:
    parts = RequestParts(headers=CIMultiDict({"X-Ref": "a" * 10 + "TAIL"}))
    out = extract(
        {
            "cut": {"header": "X-Ref", "regex": "TAIL", "max_length": 10, "default": "none"},
            "whole": {"header": "X-Ref", "regex": "a+(TAIL)"},
        },
        parts,
    )
    assert out == {"cut": "none", "whole": "TAIL"}


def test_a_catastrophic_regex_runs_in_linear_time() -> None:
    hostile = "a" * 60_000 + "!"
    parts = RequestParts(headers=CIMultiDict({"X-A": hostile}), query=MultiDict([("q", "a" * 60_000)]))
    out = extract(
        {
            "h": {"header": "X-A", "regex": "(a+)+$", "max_length": 65_536, "default": "no"},
            "q": {"query": "q", "regex": "^(a+)+$", "max_length": 65_536},
        },
        parts,
    )
    assert out == {"h": "no", "q": "a" * 60_000}


def test_a_json_string_body_is_not_read_as_a_document() -> None:
    # The body "{\"a\": \"injected\"}" is one JSON string; it used to be parsed again and yield $.a.
    parts = body(rb'"{\"a\": \"injected\"}"', "application/json")
    out = extract(
        {"a": {"jsonpath": "$.a"}, "whole": {"jsonpath": "$"}, "d": {"jsonpath": "$.a", "default": "-"}}, parts
    )
    assert out == {"whole": '{"a": "injected"}', "d": "-"}


def test_a_body_too_deep_for_a_jsonpath_is_invalid_not_a_crash() -> None:
    raw = b'{"a":' * 101 + b'{"id": 1}' + b"}" * 101
    # The body parser refuses it first (one depth bound for parse, search and serialize) ...
    with pytest.raises(InvalidBody, match="deeper than 100 levels"):
        body(raw, "application/json")
    # ... and extraction stands on its own where a document arrives by another way.
    deep = RequestParts(body=ParsedBody(kind="json", json=orjson.loads(raw), has_json=True))
    with pytest.raises(InvalidBody, match="nests too deeply"):
        extract({"ids": {"jsonpath": "$..id"}}, deep)
    assert extract({"top": {"jsonpath": "$.a.a"}}, deep)["top"].startswith('{"a":')
    arrays = RequestParts(body=ParsedBody(kind="json", json=orjson.loads(b"[" * 300 + b"]" * 300), has_json=True))
    with pytest.raises(InvalidBody, match="nests too deeply"):
        extract({"all": {"jsonpath": "$"}}, arrays)
