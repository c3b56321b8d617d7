"""The ingress filter: type globs, conditions, all/any."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hookgate.gateway.shaping.filter import IGNORED_CONDITION, IGNORED_TYPE, FilterConfig


def reason(cfg: dict[str, Any], event_type: str = "com.github.push", **variables: str) -> str | None:
    return FilterConfig.model_validate(cfg).build().ignore_reason(event_type, variables)


def test_empty_filter_passes_everything() -> None:
    assert reason({}) is None


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("com.github.push", None),
        ("com.github.pull_request.opened", None),
        ("com.github.pull_request", None),
        ("com.github.issues", IGNORED_TYPE),
        ("xcom.github.push", IGNORED_TYPE),
        ("com.github.push.extra", IGNORED_TYPE),
    ],
)
def test_type_globs(event_type: str, expected: str | None) -> None:
    assert reason({"types": ["com.github.push", "com.github.pull_request*"]}, event_type) == expected


def test_equals_single_and_list() -> None:
    cfg = {"conditions": [{"var": "action", "equals": ["opened", "synchronize"]}]}
    assert reason(cfg, action="opened") is None
    assert reason(cfg, action="closed") == IGNORED_CONDITION
    assert reason(cfg) == IGNORED_CONDITION
    assert reason({"conditions": [{"var": "action", "equals": "opened"}]}, action="opened") is None


def test_regex_is_a_full_match() -> None:
    cfg = {"conditions": [{"var": "ref", "regex": "refs/heads/(main|release/.+)"}]}
    assert reason(cfg, ref="refs/heads/main") is None
    assert reason(cfg, ref="refs/heads/release/1.2") is None
    assert reason(cfg, ref="refs/heads/main-old") == IGNORED_CONDITION
    assert reason(cfg, ref="xrefs/heads/main") == IGNORED_CONDITION


def test_exists() -> None:
    assert reason({"conditions": [{"var": "label", "exists": True}]}, label="") is None
    assert reason({"conditions": [{"var": "label", "exists": True}]}) == IGNORED_CONDITION
    assert reason({"conditions": [{"var": "label", "exists": False}]}) is None
    assert reason({"conditions": [{"var": "label", "exists": False}]}, label="x") == IGNORED_CONDITION


def test_all_and_any() -> None:
    conditions = [{"var": "a", "equals": "1"}, {"var": "b", "equals": "2"}]
    assert reason({"conditions": conditions}, a="1", b="2") is None
    assert reason({"conditions": conditions}, a="1", b="3") == IGNORED_CONDITION
    assert reason({"conditions": conditions, "match": "any"}, a="1", b="3") is None
    assert reason({"conditions": conditions, "match": "any"}, a="0", b="3") == IGNORED_CONDITION


def test_type_is_checked_before_conditions() -> None:
    cfg = {"types": ["a.*"], "conditions": [{"var": "x", "exists": True}]}
    assert reason(cfg, "b.c") == IGNORED_TYPE
    assert reason(cfg, "a.c") == IGNORED_CONDITION
    assert reason(cfg, "a.c", x="1") is None


@pytest.mark.parametrize(
    "cond",
    [{"var": "a"}, {"var": "a", "equals": "x", "exists": True}, {"var": "a", "regex": "("}],
)
def test_bad_conditions(cond: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FilterConfig.model_validate({"conditions": [cond]})
