"""A small, safe template language for HTTP actions: placeholders, no code.

A placeholder is ``{source}`` or ``{source|default:TEXT}``; ``{{`` and ``}}`` are literal braces.

==================  =========================================================================
``{attr.NAME}``     a CloudEvents attribute: ``id``, ``type``, ``source``, ``subject``, ``time``,
                    ``tenant``, ``trigger``, any extension
``{vars.NAME}``     a variable the gateway extracted; ``{vars}`` is all of them (an object)
``{data.$...}``     a JSONPath over the JSON body (one node: its value; several: a list)
``{data}``          the whole body (parsed JSON when it is JSON, else the text)
``{secrets.NAME}``  a secret from the action's ``secrets:`` map (``${ENV}`` or ``file:``)
``{workflow}``      the workflow's name
==================  =========================================================================

Where a placeholder sits decides how its value is escaped: percent-encoded in a URL (so a value can
never add a path segment or a query parameter), JSON-encoded in a JSON body (a string leaf that is
exactly one placeholder takes the value's own JSON type), form-encoded in a form body, and refused in
a header when it holds a line break. A value that is absent and has no ``|default:`` fails the action
permanently (no retry can make it appear). There is no expression evaluation of any kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from hookgate.consumer.workflows.event import NOT_JSON, Event
from hookgate.consumer.workflows.predicates import compile_jsonpath, find_all, text_of

_ABSENT: Final = object()
_DEFAULT = "|default:"


class TemplateError(ValueError):
    """A template cannot be parsed (at load) or rendered (for one event)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What placeholders read: the event, the workflow's name and the action's secrets."""

    event: Event
    workflow: str
    secrets: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Placeholder:
    expr: str
    source: str  # attr | vars | data | secrets | workflow
    name: str | None
    default: str | None
    path: Any = None  # compiled JSONPath for data.$...

    def resolve(self, ctx: Context) -> Any:
        value = self._lookup(ctx)
        if value is _ABSENT:
            if self.default is None:
                raise TemplateError(f"{{{self.expr}}} has no value for this event")
            return self.default
        return value

    def _lookup(self, ctx: Context) -> Any:
        if self.source == "attr":
            assert self.name is not None
            attr = ctx.event.attribute(self.name)
            return _ABSENT if attr is None else attr
        if self.source == "vars":
            variables = ctx.event.variables
            if self.name is None:
                return variables
            return variables.get(self.name, _ABSENT)
        if self.source == "secrets":
            assert self.name is not None
            return ctx.secrets.get(self.name, _ABSENT)
        if self.source == "workflow":
            return ctx.workflow
        document = ctx.event.json_data
        if self.path is None:
            return ctx.event.data.decode("utf-8", "replace") if document is NOT_JSON else document
        nodes = find_all(self.path, document)
        if not nodes:
            return _ABSENT
        return nodes[0] if len(nodes) == 1 else nodes


def _placeholder(expr: str, at: int, reveal: bool) -> Placeholder:
    shown = f" {{{expr}}}" if reveal else ""
    body, default = expr, None
    if _DEFAULT in expr:
        body, default = expr.split(_DEFAULT, 1)
    body = body.strip()
    head, _, rest = body.partition(".")
    if head == "workflow" and not rest:
        return Placeholder(expr, "workflow", None, default)
    if head == "vars":
        return Placeholder(expr, "vars", rest or None, default)
    if head in ("attr", "secrets") and rest:
        return Placeholder(expr, head, rest, default)
    if head == "data" and not rest:
        return Placeholder(expr, "data", None, default)
    if head == "data" and rest.startswith("$"):
        try:
            path = compile_jsonpath(rest)
        except ValueError as exc:
            raise TemplateError(f"placeholder at character {at}{shown}: {exc}") from None
        return Placeholder(expr, "data", rest, default, path)
    raise TemplateError(
        f"placeholder at character {at}{shown}: expected attr.NAME, vars.NAME, vars, data, data.$JSONPATH, "
        "secrets.NAME or workflow"
    )


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholders, in order."""

    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str, *, reveal: bool = True) -> Template:
        """Parse once at load. ``reveal=False`` keeps the template's text out of errors (secret headers)."""
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "{" and text.startswith("{{", i):
                literal.append("{")
                i += 2
            elif ch == "}" and text.startswith("}}", i):
                literal.append("}")
                i += 2
            elif ch == "{":
                end = text.find("}", i + 1)
                if end < 0:
                    raise TemplateError(f"'{{' at character {i} is not closed (write {{{{ for a literal brace)")
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(_placeholder(text[i + 1 : end], i, reveal))
                i = end + 1
            elif ch == "}":
                raise TemplateError(f"'}}' at character {i} has no '{{' (write }}}} for a literal brace)")
            else:
                literal.append(ch)
                i += 1
        if literal:
            parts.append("".join(literal))
        return cls(tuple(parts))

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    @property
    def literal_prefix(self) -> str:
        """The text before the first placeholder."""
        return self.parts[0] if self.parts and isinstance(self.parts[0], str) else ""

    def render(self, ctx: Context, escape: Callable[[Any], str] = text_of) -> str:
        """Literal text as written; each placeholder's value through ``escape``."""
        return "".join(p if isinstance(p, str) else escape(p.resolve(ctx)) for p in self.parts)

    def render_value(self, ctx: Context) -> Any:
        """For a JSON leaf: exactly one placeholder gives the value itself (any JSON type); else a string."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0].resolve(ctx)
        return self.render(ctx)


def url_escape(value: Any) -> str:
    """Percent-encode everything outside RFC 3986's unreserved set, ``/`` ``?`` ``&`` ``=`` included."""
    return quote(text_of(value), safe="")


def header_escape(value: Any) -> str:
    text = text_of(value)
    if any(c in text for c in "\r\n\0"):
        raise TemplateError("a header value would contain a line break")
    return text


@dataclass(frozen=True, slots=True)
class JsonTemplate:
    """A JSON document (from YAML) whose string leaves are templates; keys are literal."""

    root: Any

    @classmethod
    def parse(cls, document: Any) -> JsonTemplate:
        return cls(_parse_json(document, "$"))

    def render(self, ctx: Context) -> Any:
        return _render_json(self.root, ctx)

    @property
    def placeholders(self) -> list[Placeholder]:
        out: list[Placeholder] = []
        _collect(self.root, out)
        return out


def _parse_json(node: Any, where: str) -> Any:
    if isinstance(node, str):
        try:
            return Template.parse(node)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from None
    if isinstance(node, dict):
        return {str(k): _parse_json(v, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_parse_json(v, f"{where}[{i}]") for i, v in enumerate(node)]
    return node


def _render_json(node: Any, ctx: Context) -> Any:
    if isinstance(node, Template):
        return node.render_value(ctx)
    if isinstance(node, dict):
        return {k: _render_json(v, ctx) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_json(v, ctx) for v in node]
    return node


def _collect(node: Any, out: list[Placeholder]) -> None:
    if isinstance(node, Template):
        out.extend(node.placeholders)
    elif isinstance(node, dict):
        for v in node.values():
            _collect(v, out)
    elif isinstance(node, list):
        for v in node:
            _collect(v, out)
