"""JSONPath over parsed JSON documents: the one implementation behind variables, filters, matches, templates.

Paths are `RFC 9535 <https://www.rfc-editor.org/rfc/rfc9535>`_ JSONPath (with python-jsonpath's
extensions: unions with ``|``, filter expressions, ``=~``), compiled once at load by :func:`compile_jsonpath`.
Three rules hold wherever hookgate evaluates one:

- **A string is never read as a document.** A body that is the JSON string ``"{\\"a\\": 1}"`` is a
  string: ``$`` selects it, ``$.a`` selects nothing. (python-jsonpath would parse a ``str`` handed to it
  as JSON text, which would let a sender smuggle a document inside a string.)
- **Regular expressions run on RE2.** ``match()``, ``search()`` and ``=~`` in filter expressions use the
  same linear-time engine as every other pattern (:mod:`hookgate.core.regex`).
- **Depth is bounded.** A descendant segment (``..``) descends at most :data:`MAX_DEPTH` levels; a
  document that makes it go deeper, or a selected value too deep to write as JSON text, is a
  :class:`JsonPathError`, never a stray exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Annotated, Any, Final

import jsonpath
import orjson
from jsonpath.filter import BaseExpression, FilterExpressionLiteral
from jsonpath.function_extensions import ExpressionType, FilterFunction
from jsonpath.match import JSONPathMatch
from jsonpath.parse import Parser
from jsonpath.stream import TokenStream
from jsonpath.token import TOKEN_RE_FLAGS
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from hookgate.core.regex import Compiled, Pattern, RegexError, compile_regex, config_input

MAX_DEPTH = 100
"""Levels a descendant segment (``..``) may descend; the same bound XML bodies have."""


class _NotJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJson()
"""The document of a body that is not JSON (distinct from the JSON document ``null``): selects nothing."""


class JsonPathError(ValueError):
    """A JSONPath does not compile, or cannot be evaluated on a document; the message says why."""


class _RegexLiteral(FilterExpressionLiteral[Pattern]):
    """``=~ /pattern/flags`` in a filter expression, compiled by RE2."""

    __slots__ = ("flags", "source")

    def __init__(self, *, value: Pattern, source: str, flags: str) -> None:
        super().__init__(value=value)
        self.source, self.flags = source, flags

    def __str__(self) -> str:
        return f"/{self.source}/{self.flags}"


class _Parser(Parser):
    def parse_regex(self, stream: TokenStream) -> BaseExpression:
        pattern = stream.current().value
        flags = ""
        if stream.peek().kind == TOKEN_RE_FLAGS:
            stream.next()
            flags = "".join(sorted(set(stream.next().value)))
        if "a" in flags:
            raise jsonpath.JSONPathSyntaxError("the regex flag 'a' is not supported", token=stream.current())
        try:
            compiled = compile_regex(f"(?{flags}){pattern}" if flags else pattern)
        except RegexError as exc:
            raise jsonpath.JSONPathSyntaxError(str(exc), token=stream.current()) from None
        return _RegexLiteral(value=compiled, source=pattern, flags=flags)


@lru_cache(maxsize=256)
def _function_pattern(pattern: str) -> Pattern | None:
    try:
        return compile_regex(pattern)
    except RegexError:
        return None  # RFC 9535: an invalid pattern makes match() and search() false


class _RegexFunction(FilterFunction):
    """RFC 9535 ``match()`` (whole value) and ``search()`` (anywhere), on RE2."""

    arg_types = [ExpressionType.VALUE, ExpressionType.VALUE]
    return_type = ExpressionType.LOGICAL

    def __init__(self, *, anchored: bool) -> None:
        self._anchored = anchored

    def __call__(self, value: object, pattern: object) -> bool:
        if not isinstance(value, str) or not isinstance(pattern, str):
            return False
        compiled = _function_pattern(pattern)
        if compiled is None:
            return False
        return compiled.fullmatch(value) if self._anchored else compiled.search(value)


class _Environment(jsonpath.JSONPathEnvironment):
    max_recursion_depth = MAX_DEPTH
    parser_class = _Parser

    def setup_function_extensions(self) -> None:
        super().setup_function_extensions()
        self.function_extensions["match"] = _RegexFunction(anchored=True)
        self.function_extensions["search"] = _RegexFunction(anchored=False)


_ENV: Final = _Environment()

_Library = jsonpath.JSONPath | jsonpath.CompoundJSONPath


class JsonPath(Compiled):
    """A compiled JSONPath; :meth:`find` selects nodes of a parsed document."""

    __slots__ = ("_path",)

    def __init__(self, text: str, path: _Library) -> None:
        super().__init__(text)
        self._path = path

    @property
    def is_root(self) -> bool:
        """Whether the path selects just the document itself (``$``)."""
        return isinstance(self._path, jsonpath.JSONPath) and not self._path.segments and not self._path.pseudo_root

    def find(self, document: Any) -> list[Any]:
        """The nodes selected in ``document`` (a parsed JSON value, or :data:`NOT_JSON`: nothing).

        Raises :class:`JsonPathError` when the document nests deeper than the path may descend.
        """
        if document is NOT_JSON:
            return []
        try:
            if isinstance(document, str):
                return _find_in_string(self._path, document)
            return self._path.findall(document)
        except (jsonpath.JSONPathError, RecursionError) as exc:
            raise JsonPathError(f"{self.text}: cannot search this document: {_first_line(exc)}") from None


def compile_jsonpath(text: str) -> JsonPath:
    """Compile once at load; raises :class:`JsonPathError` naming the problem."""
    if not text.startswith("$"):
        raise JsonPathError("a JSONPath starts with '$'")
    try:
        return JsonPath(text, _ENV.compile(text))
    except (jsonpath.JSONPathError, RecursionError) as exc:
        raise JsonPathError(f"not a valid JSONPath: {_first_line(exc)}") from None


def text_of(value: Any) -> str:
    """A JSON value as text: strings as they are, anything else as compact JSON (``true``, ``3``, ``{"a":1}``)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        raise JsonPathError(f"a selected value cannot be written as JSON text: {exc}") from None


def _find_in_string(path: _Library, document: str) -> list[Any]:
    """What ``path`` selects in a document that is one JSON string, without the library reading it as JSON."""
    if isinstance(path, jsonpath.CompoundJSONPath):
        found = _find_in_string(path.path, document)
        for op, other in path.paths:
            more = _find_in_string(other, document)
            found = found + more if op == _ENV.union_token else [obj for obj in found if obj in more]
        return found
    # JSONPath.finditer minus its load_data() step, which would json.loads() a str.
    start = JSONPathMatch(
        filter_context={},
        obj=[document] if path.pseudo_root else document,
        parent=None,
        path=_ENV.pseudo_root_token if path.pseudo_root else _ENV.root_token,
        parts=(),
        root=document,
    )
    matches: Iterable[JSONPathMatch] = [start]
    for segment in path.segments:
        matches = segment.resolve(matches)
    return [m.obj for m in matches]


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


JsonPathField = Annotated[
    JsonPath,
    PlainValidator(config_input(JsonPath, compile_jsonpath, "a JSONPath (a string starting with '$')")),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "format": "jsonpath"}),
]
"""A JSONPath in a config file, compiled at load (errors carry the key path)."""
