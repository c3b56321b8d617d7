"""The one regex type: RE2 semantics, linear time, load-time errors that say why, globs."""

from __future__ import annotations

import fnmatch

import pytest

from hookgate.core.config import ConfigError, StrictModel, load_model
from hookgate.core.regex import Glob, Pattern, Regex, RegexError, compile_glob, compile_regex

HOSTILE = "a" * 100_000 + "!"
"""Against ``(a+)+$`` a backtracking engine needs ~2^100000 steps; RE2 one pass (the pytest timeout guards)."""


def test_catastrophic_patterns_match_in_linear_time() -> None:
    nested = compile_regex(r"(a+)+$")
    assert nested.search(HOSTILE) is False
    assert nested.search(HOSTILE[:-1]) is True
    assert nested.fullmatch(HOSTILE) is False
    assert nested.first_group(HOSTILE) is None
    assert compile_regex(r"^(a|aa)+$").fullmatch(HOSTILE) is False
    assert compile_regex(r"(\w+\s?)*$").search("word " * 20_000 + "!") is True  # matches the empty tail


def test_search_fullmatch_and_first_group() -> None:
    p = compile_regex(r"heads/(\w+)")
    assert p.search("refs/heads/main")
    assert not p.fullmatch("refs/heads/main")
    assert compile_regex(r"refs/heads/\w+").fullmatch("refs/heads/main")
    assert p.first_group("refs/heads/main") == "main"
    assert compile_regex(r"refs/\w+").first_group("refs/heads/main") == "refs/heads"  # no group: the match
    assert compile_regex(r"(x)?y").first_group("y") is None  # the group took no part
    assert compile_regex("é+").first_group("café") == "é"


def test_text_with_lone_surrogates_is_matched_as_replacement_characters() -> None:
    assert compile_regex("caf.$").search("caf\udce9")
    assert compile_regex("^caf\ufffd$").fullmatch("caf\udce9")


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(a)\1", "no backreferences"),
        (r"(?=a)a", "no lookahead"),
        (r"(?!dependabot/).*", "no negative lookahead; negate with `not`"),
        (r"(?<=a)b", "no lookbehind"),
        (r"(?<!a)b", "no negative lookbehind"),
        (r"a\Z", r"end of the text as \z"),
        (r"a*+", "no possessive quantifiers"),
        ("(unclosed", "missing )"),
        ("[a-", "missing ]"),
    ],
)
def test_patterns_re2_cannot_compile_say_why(pattern: str, words: str) -> None:
    with pytest.raises(RegexError) as err:
        compile_regex(pattern)
    assert str(err.value).startswith("not a valid regular expression: ")
    assert words in str(err.value)


class _Model(StrictModel):
    regex: Regex
    globs: Glob | None = None


def test_the_config_type_compiles_at_load_and_names_the_key_path() -> None:
    model = load_model(_Model, {"regex": "^v\\d+", "globs": ["a.*", "b"]}, "<t>", env={})
    assert isinstance(model.regex, Pattern)
    assert str(model.regex) == "^v\\d+"
    assert model.regex.search("v12")
    assert model.globs is not None
    assert model.globs.fullmatch("a.x")
    assert model.globs.fullmatch("b")
    assert not model.globs.fullmatch("bb")
    with pytest.raises(ConfigError) as err:
        load_model(_Model, {"regex": "(?<=x)y"}, "<t>", env={})
    assert "  regex: Value error, not a valid regular expression" in str(err.value)
    assert "lookbehind" in str(err.value)
    with pytest.raises(ConfigError, match=r"  regex: .*expected a regular expression"):
        load_model(_Model, {"regex": 3}, "<t>", env={})


GLOBS = ["com.github.*", "*.push", "a?c", "[abc]x", "[!abc]x", "[]]x", "[a-c]*", "x[", "*", "", "a*b*c", "[^a]"]
TEXTS = ["com.github.push", "com.gitlab.push", "abc", "ax", "dx", "]x", "b-long", "x[", "", "a\nb\nc", "^", "aXc"]


@pytest.mark.parametrize("glob", GLOBS)
def test_globs_mean_what_fnmatch_means(glob: str) -> None:
    compiled = compile_glob(glob)
    for text in TEXTS:
        assert compiled.fullmatch(text) is fnmatch.fnmatchcase(text, glob), (glob, text)


def test_a_list_of_globs_matches_any() -> None:
    p = compile_glob(["com.github.push", "com.github.pull_request*"])
    assert p.fullmatch("com.github.pull_request.opened")
    assert p.fullmatch("com.github.push")
    assert not p.fullmatch("com.github.push.extra")
    assert not p.fullmatch("xcom.github.push")
    with pytest.raises(RegexError):
        compile_glob([])
    with pytest.raises(RegexError, match="glob"):
        compile_glob("[z-a]")
