"""The ingress filter: type globs, conditions (the core operators), all/any, not/any/all nesting."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.shaping.filter import IGNORED_CONDITION, IGNORED_TYPE, FilterConfig
from hookgate.gateway.shaping.templates import TemplateValues


def reason(cfg: dict[str, Any], event_type: str = "com.github.push", **variables: str) -> str | None:
    facts = TemplateValues({"type": event_type}, variables)
    return FilterConfig.model_validate(cfg).build().ignore_reason(facts)


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


def test_fullmatch_matches_the_whole_value() -> None:
    cfg = {"conditions": [{"var": "ref", "fullmatch": "refs/heads/(main|release/.+)"}]}
    assert reason(cfg, ref="refs/heads/main") is None
    assert reason(cfg, ref="refs/heads/release/1.2") is None
    assert reason(cfg, ref="refs/heads/main-old") == IGNORED_CONDITION
    assert reason(cfg, ref="xrefs/heads/main") == IGNORED_CONDITION


def test_regex_is_searched_as_everywhere_else() -> None:
    # The filter used to read `regex` as a full match while variables and workflow matches searched.
    cfg = {"conditions": [{"var": "ref", "regex": "heads/main"}]}
    assert reason(cfg, ref="refs/heads/main") is None
    assert reason(cfg, ref="refs/heads/main-old") is None
    assert reason(cfg, ref="refs/heads/dev") == IGNORED_CONDITION
    anchored = {"conditions": [{"var": "ref", "regex": "^refs/heads/main$"}]}
    assert reason(anchored, ref="refs/heads/main") is None
    assert reason(anchored, ref="refs/heads/main-old") == IGNORED_CONDITION


def test_a_catastrophic_regex_is_matched_in_linear_time() -> None:
    cfg = {"conditions": [{"var": "v", "regex": "(a+)+$"}]}
    assert reason(cfg, v="a" * 100_000 + "!") == IGNORED_CONDITION
    assert reason(cfg, v="a" * 100_000) is None


def test_the_other_operators() -> None:
    assert reason({"conditions": [{"var": "r", "prefix": "refs/tags/"}]}, r="refs/tags/v1") is None
    assert reason({"conditions": [{"var": "r", "suffix": "/main"}]}, r="refs/tags/v1") == IGNORED_CONDITION
    assert reason({"conditions": [{"var": "r", "glob": "refs/*/v?"}]}, r="refs/tags/v1") is None
    assert reason({"conditions": [{"var": "n", "in": ["1", "2"]}]}, n="2") is None
    assert reason({"conditions": [{"var": "n", "equals": 7}]}, n="7") is None  # a number compares by text
    both = {"conditions": [{"var": "r", "prefix": "refs/", "exists": True}]}  # several operators: all hold
    assert reason(both, r="refs/x") is None


def test_not_any_and_all_nest() -> None:
    cfg = {
        "conditions": [
            {"not": {"var": "branch", "prefix": "dependabot/"}},
            {"any": [{"var": "action", "equals": "opened"}, {"all": [{"var": "draft", "equals": "false"}]}]},
        ]
    }
    assert reason(cfg, branch="main", action="opened") is None
    assert reason(cfg, branch="main", action="closed", draft="false") is None
    assert reason(cfg, branch="dependabot/npm", action="opened") == IGNORED_CONDITION
    assert reason(cfg, branch="main", action="closed", draft="true") == IGNORED_CONDITION
    assert FilterConfig.model_validate(cfg).conditions[1].variables == {"action", "draft"}


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
    ("cond", "path", "words"),
    [
        ({"var": "a"}, "conditions[0]", "at least one of equals, in, prefix"),
        ({"equals": "x"}, "conditions[0]", "names a variable (var) or combines"),
        ({"var": "a", "regex": "("}, "conditions[0].regex", "not a valid regular expression"),
        ({"var": "a", "regex": "(?!dependabot/).*"}, "conditions[0].regex", "negate with `not`"),
        ({"var": "a", "fullmatch": "(a)\\1"}, "conditions[0].fullmatch", "no backreferences"),
        ({"not": {"var": "a", "exists": True}, "var": "b"}, "conditions[0]", "stand alone"),
        ({"not": {"var": "a", "regex": "("}}, "conditions[0].not.regex", "not a valid regular"),
        ({"any": [{"var": "a", "exists": True}, {"var": "b", "glob": "[z-a]"}]}, "conditions[0].any[1].glob", "glob"),
        ({"var": "a", "equals": ["x"], "in": ["y"]}, "conditions[0]", "equals with a list means in"),
        ({"var": "a", "regexp": "x"}, "conditions[0].regexp", "unknown key"),
    ],
)
def test_bad_conditions_name_the_key_path(cond: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_model(FilterConfig, {"conditions": [cond]}, "<t>", env={})
    line = next(ln for ln in str(err.value).splitlines() if ln.strip().startswith(path + ":"))
    assert words in line


def test_bad_type_globs() -> None:
    with pytest.raises(ValidationError, match="glob"):
        FilterConfig.model_validate({"types": ["[z-a]"]})
