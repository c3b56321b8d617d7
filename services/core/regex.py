"""Regular expressions and globs from configuration: one type, one engine, one meaning per keyword.

Every pattern a config file holds is compiled once, at load, by RE2 (``google-re2``): matching takes
time linear in the text whatever the pattern, so no value a sender controls can stall the process the
way ``(a+)+$`` stalls a backtracking engine. RE2 has no backreferences and no lookaround; a pattern that
uses them is a config error that says so.

The keywords mean the same everywhere (variables, the ingress filter, workflow matches):

- ``regex`` is **searched**: it may match anywhere in the value; anchor it with ``^`` and ``$``;
- ``fullmatch`` must match the **whole** value;
- ``glob`` is a shell pattern (``*``, ``?``, ``[abc]``, ``[!abc]``) over the whole value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, TypeVar

import re2
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

# The extension module itself, not the re-compatible wrapper around it: the wrapper's per-call generator
# and character-offset bookkeeping cost three times the match (measured: ~7 us against ~2 us), and these
# patterns run per request. Its API (RE2, Options, Anchor, Match) is the one the wrapper is written on.
from re2 import _re2

ENGINE = "RE2"
C = TypeVar("C", bound="Compiled")

_UNANCHORED: Final = _re2.RE2.Anchor.UNANCHORED
_WHOLE: Final = _re2.RE2.Anchor.ANCHOR_BOTH
_SURROGATES: Final = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)
_GLOB_SPECIAL: Final = frozenset("*?[")

# RE2's messages name the construct; these add why, and what to write instead.
_HINTS: Final = (
    ("invalid perl operator: (?=", "it has no lookahead"),
    ("invalid perl operator: (?!", "it has no negative lookahead; negate with `not` in a filter or match"),
    ("invalid perl operator: (?<=", "it has no lookbehind"),
    ("invalid perl operator: (?<!", "it has no negative lookbehind; negate with `not` in a filter or match"),
    ("invalid perl operator: (?>", "it has no atomic groups, and needs none"),
    ("invalid escape sequence: \\Z", "it writes the end of the text as \\z"),
    ("bad repetition operator: *+", "it has no possessive quantifiers, and needs none"),
    ("bad repetition operator: ++", "it has no possessive quantifiers, and needs none"),
    ("bad repetition operator: ?+", "it has no possessive quantifiers, and needs none"),
)


class RegexError(ValueError):
    """A pattern does not compile; the message says why (and what RE2 cannot do)."""


class Compiled:
    """Something compiled from config text once: shown as that text, equal to what has the same text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.text == self.text

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.text))


class Pattern(Compiled):
    """A compiled pattern. ``str()`` gives the pattern as written, so it can be shown or passed on."""

    __slots__ = ("_re", "groups")

    def __init__(self, pattern: str, compiled: Any) -> None:
        super().__init__(pattern)
        self._re = compiled
        self.groups: int = compiled.NumberOfCapturingGroups()

    @property
    def pattern(self) -> str:
        """The pattern as written."""
        return self.text

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in ``text``."""
        return bool(self._match(text, _UNANCHORED)[1][0][0] >= 0)

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of ``text``."""
        return bool(self._match(text, _WHOLE)[1][0][0] >= 0)

    def first_group(self, text: str) -> str | None:
        """Search ``text``: the first group (the whole match when the pattern has none); ``None``: no match
        or the group took no part in it."""
        data, spans = self._match(text, _UNANCHORED)
        start, end = spans[1] if self.groups else spans[0]
        return None if start < 0 else data[start:end].decode()

    def _match(self, text: str, anchor: Any) -> tuple[bytes, list[tuple[int, int]]]:
        try:
            data = text.encode()
        except UnicodeEncodeError:
            # Lone surrogates (undecodable bytes aiohttp kept) are not UTF-8: match their replacement
            # character instead, as header values are shown everywhere else.
            data = text.translate(_SURROGATES).encode()
        # Spans are byte offsets; RE2 matches whole UTF-8 characters, so they fall on character boundaries.
        return data, self._re.Match(anchor, data, 0, len(data))


class _Glob(Pattern):
    """Globs that are literal or end in one ``*`` (``com.github.push``, ``com.github.*``): no regex at all."""

    __slots__ = ("_exact", "_prefixes")

    def __init__(self, text: str, compiled: Any, globs: Sequence[str]) -> None:
        super().__init__(text, compiled)
        self._exact = frozenset(g for g in globs if not g.endswith("*"))
        self._prefixes = tuple(g[:-1] for g in globs if g.endswith("*"))

    def fullmatch(self, text: str) -> bool:
        return text in self._exact or text.startswith(self._prefixes)


def compile_regex(pattern: str) -> Pattern:
    """Compile ``pattern`` with RE2; raises :class:`RegexError` saying why it cannot."""
    try:
        return Pattern(pattern, _re2_compile(pattern))
    except re2.error as exc:
        raise RegexError(_explain(exc)) from None
    except UnicodeEncodeError:
        raise RegexError("not a valid regular expression: it contains a lone surrogate (not text)") from None


def _re2_compile(pattern: str) -> Any:
    options = _re2.RE2.Options()
    options.log_errors = False  # the error reaches the user with its key path; never stderr
    compiled = _re2.RE2(pattern.encode(), options)
    if not compiled.ok():
        raise re2.error(compiled.error())
    return compiled


def compile_glob(globs: str | Sequence[str]) -> Pattern:
    """One pattern that matches a whole value matching any of ``globs`` (``fnmatch`` syntax, case-sensitive)."""
    items = [globs] if isinstance(globs, str) else list(globs)
    if not items:
        raise RegexError("expected at least one glob pattern")
    regex = "|".join(f"(?:{_glob_regex(g)})" for g in items)
    shown = items[0] if len(items) == 1 else ", ".join(items)
    try:
        compiled = _re2_compile(f"(?s:{regex})")
    except re2.error as exc:
        raise RegexError(f"not a valid glob pattern: {_detail(exc)}") from None
    except UnicodeEncodeError:
        raise RegexError("not a valid glob pattern: it contains a lone surrogate (not text)") from None
    if all(not _GLOB_SPECIAL.intersection(g.removesuffix("*")) for g in items):
        return _Glob(shown, compiled, items)
    return Pattern(shown, compiled)


def _glob_regex(glob: str) -> str:
    """``fnmatch.translate`` for RE2: ``*`` any text, ``?`` one character, ``[...]``/``[!...]`` a set."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            while i < n and glob[i] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal '[' (as fnmatch has it)
                out.append("\\[")
                continue
            body = glob[i:j]
            i = j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            escaped = "".join("\\" + ch if ch in "\\[]^" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
        else:
            out.append(re2.escape(c))
    return "".join(out)


def _detail(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _explain(exc: Exception) -> str:
    detail = _detail(exc)
    hint = next((h for prefix, h in _HINTS if detail.startswith(prefix)), None)
    if hint is None and detail.startswith("invalid escape sequence: \\") and detail[-1:].isdigit():
        hint = "it has no backreferences"
    why = f" (hookgate matches with {ENGINE}, a linear-time engine: {hint})" if hint else ""
    return f"not a valid regular expression: {detail}{why}"


def config_input(
    kind: type[C], compile: Callable[[Any], C], expected: str, *, lists: bool = False
) -> Callable[[Any], C]:
    """A pydantic validator: config text (or a list of texts) compiled by ``compile``; ``kind`` passes as is."""

    def validate(value: Any) -> C:
        if isinstance(value, kind):
            return value
        texts = value if lists and isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in texts):
            raise ValueError(f"expected {expected}")
        return compile(value)

    return validate


Regex = Annotated[
    Pattern,
    PlainValidator(config_input(Pattern, compile_regex, "a regular expression (a string)")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "regex"}),
]
"""A regular expression in a config file, compiled by RE2 at load (errors carry the key path)."""

Glob = Annotated[
    Pattern,
    PlainValidator(config_input(Pattern, compile_glob, "a glob pattern or a list of them", lists=True)),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
"""A glob pattern (or a list: any of them) in a config file, compiled at load."""
