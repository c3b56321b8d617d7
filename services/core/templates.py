"""One small template language, used by the gateway (type, subject, key) and the consumers (HTTP actions).

Grammar::

    template    = *( literal | "{{" | "}}" | placeholder )
    placeholder = "{" source [ "|default:" text ] "}"

``{{`` and ``}}`` are literal braces; a placeholder holds no brace, and its default is the text after
``|default:`` as written (it may be empty). A ``|`` followed by anything but ``default:`` is an error
(the gateway's earlier ``{x|TEXT}`` is written ``{x|default:TEXT}``). There is no expression language:
a placeholder names a value and nothing is evaluated, so a value that holds braces is inserted as it is.

Which *sources* exist is each service's choice (:class:`Sources`): the gateway offers ``tenant``,
``vars.NAME``, ``header.NAME``, ``$.json.path``, ...; a consumer ``attr.NAME``, ``data.$...``,
``secrets.NAME``, ... An unknown source is an error when the template is parsed, at load. A source
that has no value gives the default; without one, the service decides (:attr:`Sources.missing`):
the gateway writes nothing, a consumer fails the action.

How a value is written is the *rendering mode*, chosen by where the template sits: as text
(:func:`text_of`), percent-encoded in a URL (:func:`url_escape`), refused with a line break in a header
(:func:`header_escape`), form-encoded (:class:`FormTemplate`), or as a JSON value (:class:`JsonTemplate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote, urlencode

import orjson

from hookgate.core.jsonpath import JsonPath, JsonPathError, compile_jsonpath, text_of

C = TypeVar("C")

_TOKEN: Final = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_DEFAULT: Final = "default:"
NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
"""What ``NAME`` may be in ``{scope.NAME}`` unless a scope says otherwise."""


class TemplateError(ValueError):
    """A template does not parse (at load) or cannot be rendered (for one request or event)."""


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""What a lookup returns when its source has no value (the default, if any, then applies)."""

Lookup = Callable[[C], Any]
"""Reads one source's value from a service's context; :data:`ABSENT` when it has none."""


@dataclass(frozen=True, slots=True)
class Scope(Generic[C]):
    """A family of sources ``{scope.NAME}``: ``lookup(NAME)`` compiles the lookup for one name at load.

    ``lookup`` may raise ``ValueError`` for a name it refuses; ``name`` is the rule a name must follow
    first (``None``: any non-empty text, e.g. a JSONPath).
    """

    lookup: Callable[[str], Lookup[C]]
    shown: str = "NAME"
    name: re.Pattern[str] | None = NAME


@dataclass(frozen=True, slots=True)
class Sources(Generic[C]):
    """The placeholders a service offers, and what a placeholder with no value and no default gives.

    ``names``: whole sources (``{tenant}``); ``scopes``: ``{scope.NAME}`` families; ``jsonpath``: whether
    ``{$...}`` is a JSONPath into the body, and how to read it. ``missing="empty"`` writes nothing for a
    value that is absent; ``missing="error"`` makes rendering fail.
    """

    names: Mapping[str, Lookup[C]]
    scopes: Mapping[str, Scope[C]] = field(default_factory=dict)
    jsonpath: Callable[[JsonPath], Lookup[C]] | None = None
    missing: Literal["empty", "error"] = "error"

    def lookup(self, source: str) -> Lookup[C] | None:
        """The compiled lookup for ``source``, ``None`` when the service offers no such source.

        Raises ``ValueError`` when the source exists but its argument is wrong (a JSONPath that does
        not compile, a name a scope refuses).
        """
        fixed = self.names.get(source)
        if fixed is not None:
            return fixed
        if source.startswith("$") and self.jsonpath is not None:
            return self.jsonpath(compile_jsonpath(source))
        head, dot, name = source.partition(".")
        scope = self.scopes.get(head)
        if not dot or scope is None or not name or (scope.name is not None and not scope.name.match(name)):
            return None
        return scope.lookup(name)

    def describe(self) -> str:
        """The sources, as an error message lists them."""
        shown = [*self.names, *(f"{k}.{s.shown}" for k, s in self.scopes.items())]
        if self.jsonpath is not None:
            shown.append("$JSONPATH")
        return ", ".join(shown)


@dataclass(frozen=True, slots=True)
class Placeholder(Generic[C]):
    """One ``{source|default:TEXT}``: its source, its default, and the lookup compiled for it."""

    expr: str
    source: str
    default: str | None
    lookup: Lookup[C] = field(compare=False, repr=False)
    required: bool = field(default=True, compare=False)

    @property
    def scope(self) -> str:
        """The source's family: ``vars`` for ``{vars.x}``, ``$`` for ``{$.a}``, the source itself for ``{tenant}``."""
        return "$" if self.source.startswith("$") else self.source.partition(".")[0]

    @property
    def name(self) -> str | None:
        """What follows the scope (``x`` in ``{vars.x}``, ``$.a`` in ``{data.$.a}``), ``None`` when nothing does."""
        if self.source.startswith("$"):
            return self.source
        return self.source.partition(".")[2] or None

    def resolve(self, ctx: C) -> Any:
        """The value for ``ctx``: the source's, else the default, else nothing or an error."""
        value = self.lookup(ctx)
        if value is not ABSENT:
            return value
        if self.default is not None:
            return self.default
        if self.required:
            raise TemplateError(f"{{{self.expr}}} has no value for this event")
        return ""


class Template(Generic[C]):
    """A template parsed once, at load, into literal text and placeholders."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str, sources: Sources[C], *, reveal: bool = True) -> None:
        """Parse ``text``; raises :class:`TemplateError`. ``reveal=False`` keeps the text out of errors."""
        self.text = text
        self.parts: tuple[str | Placeholder[C], ...] = tuple(_parse(text, sources, reveal))

    @property
    def placeholders(self) -> list[Placeholder[C]]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    @property
    def literal_prefix(self) -> str:
        """The text before the first placeholder."""
        return self.parts[0] if self.parts and isinstance(self.parts[0], str) else ""

    def render(self, ctx: C, escape: Callable[[Any], str] = text_of) -> str:
        """Literal text as written; each placeholder's value through ``escape`` (the rendering mode)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(escape(part.resolve(ctx)))
            except JsonPathError as exc:
                raise TemplateError(f"{{{part.expr}}}: {exc}") from None
        return "".join(out)

    def render_value(self, ctx: C) -> Any:
        """For a JSON leaf: exactly one placeholder gives the value itself (any JSON type); else a string."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0].resolve(ctx)
        return self.render(ctx)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def _parse(text: str, sources: Sources[C], reveal: bool) -> list[str | Placeholder[C]]:
    parts: list[str | Placeholder[C]] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if m.group(1) is None:
            raise TemplateError(f"unmatched {token!r} at character {m.start()} (write {token * 2} for a literal brace)")
        if any(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(_placeholder(m.group(1), m.start(), sources, reveal))
    literal.append(text[pos:])
    if any(literal):
        parts.append("".join(literal))
    return parts


def _placeholder(expr: str, at: int, sources: Sources[C], reveal: bool) -> Placeholder[C]:
    shown = f"{{{expr}}} " if reveal else ""
    source, bar, rest = expr.partition("|")
    source = source.strip()
    default: str | None = None
    if bar:
        tail = rest.lstrip()
        if not tail.startswith(_DEFAULT):
            written = f"{{{source}|default:{rest}}}" if reveal else "{SOURCE|default:TEXT}"
            raise TemplateError(f"placeholder {shown}at character {at}: a default is written {written}")
        default = tail[len(_DEFAULT) :]
    try:
        lookup = sources.lookup(source)
    except ValueError as exc:
        raise TemplateError(f"placeholder {shown}at character {at}: {exc}") from None
    if lookup is None:
        raise TemplateError(f"unknown placeholder {shown}at character {at}; expected one of {sources.describe()}")
    return Placeholder(expr, source, default, lookup, required=sources.missing == "error")


def url_escape(value: Any) -> str:
    """URL mode: percent-encode everything outside RFC 3986's unreserved set, ``/ ? & = #`` included."""
    return quote(text_of(value), safe="")


def header_escape(value: Any) -> str:
    """Header mode: the text, refused when it holds a line break (no header injection)."""
    text = text_of(value)
    if any(c in text for c in "\r\n\0"):
        raise TemplateError("a header value would contain a line break")
    return text


@dataclass(frozen=True, slots=True)
class FormTemplate(Generic[C]):
    """Form mode: fields whose names are literal and whose values are templates, form-encoded."""

    fields: Mapping[str, Template[C]]

    @classmethod
    def parse(cls, fields: Mapping[str, str], sources: Sources[C]) -> FormTemplate[C]:
        out: dict[str, Template[C]] = {}
        for key, text in fields.items():
            try:
                out[key] = Template(text, sources)
            except TemplateError as exc:
                raise TemplateError(f"{key}: {exc}") from None
        return cls(out)

    @property
    def placeholders(self) -> list[Placeholder[C]]:
        return [p for t in self.fields.values() for p in t.placeholders]

    def render(self, ctx: C) -> str:
        return urlencode({k: t.render(ctx) for k, t in self.fields.items()})


@dataclass(frozen=True, slots=True)
class JsonTemplate(Generic[C]):
    """JSON mode: a JSON document (from YAML) whose string leaves are templates; keys are literal.

    A leaf that is exactly one placeholder takes the value's own JSON type; any other leaf is a string.
    """

    root: Any

    @classmethod
    def parse(cls, document: Any, sources: Sources[C]) -> JsonTemplate[C]:
        return cls(_parse_json(document, sources, "$"))

    @property
    def placeholders(self) -> list[Placeholder[C]]:
        out: list[Placeholder[C]] = []
        _collect(self.root, out)
        return out

    def render(self, ctx: C) -> Any:
        return _render_json(self.root, ctx)

    def render_bytes(self, ctx: C) -> bytes:
        """The rendered document as JSON; a value too deep to encode is a :class:`TemplateError`."""
        try:
            return orjson.dumps(self.render(ctx))
        except orjson.JSONEncodeError as exc:
            raise TemplateError(f"the JSON body cannot be encoded: {exc}") from None


def _parse_json(node: Any, sources: Sources[C], where: str) -> Any:
    if isinstance(node, str):
        try:
            return Template(node, sources)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from None
    if isinstance(node, dict):
        return {str(k): _parse_json(v, sources, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_parse_json(v, sources, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


def _render_json(node: Any, ctx: Any) -> Any:
    if isinstance(node, Template):
        return node.render_value(ctx)
    if isinstance(node, dict):
        return {k: _render_json(v, ctx) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_json(v, ctx) for v in node]
    return node


def _collect(node: Any, out: list[Any]) -> None:
    if isinstance(node, Template):
        out.extend(node.placeholders)
    elif isinstance(node, dict):
        for v in node.values():
            _collect(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect(v, out)
