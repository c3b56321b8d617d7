"""Small string templates for the CloudEvents ``type``, ``subject`` and the record key.

Syntax: literal text with ``{placeholder}`` or ``{placeholder|default}``; ``{{`` and ``}}`` are
literal braces. A placeholder is one of

- ``tenant``, ``trigger``, ``id``, ``type``, ``subject``: the event's own values;
- ``vars.NAME``: a variable extracted for the trigger (see :mod:`hookgate.gateway.shaping.extract`);
- ``header.NAME``: a request header (case-insensitive, first value);
- ``query.NAME``: a query parameter (first value);
- ``$...``: a JSONPath into the JSON body (or a form's JSON ``payload``), e.g. ``{$.action}``; the value
  follows the rules of JSONPath variables. Such a path may not contain ``|``, ``{`` or ``}``: declare a
  variable for those.

A missing value renders as the default, or as nothing when there is none. Nothing is evaluated:
templates are parsed once at start-up into literal and lookup parts.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import jsonpath
from multidict import MultiMapping

from hookgate.gateway.intake.headertext import header_text
from hookgate.gateway.shaping.bodies import ParsedBody
from hookgate.gateway.shaping.extract import json_value

BUILTINS = ("tenant", "trigger", "id", "type", "subject")
_SCOPED = re.compile(r"^(vars|header|query)\.([A-Za-z0-9_.-]{1,128})$")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateError(ValueError):
    """A template does not follow the syntax; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{...}`` lookup: its scope (``builtin``, ``vars``, ``header``, ``query``, ``body``), name and default."""

    scope: str
    name: str
    default: str = ""


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """Everything a template may look up while rendering one request."""

    builtins: dict[str, str] = field(default_factory=dict)  # filled in as the event takes shape
    variables: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    query: MultiMapping[str] | Mapping[str, str] = field(default_factory=dict)
    body: ParsedBody | None = None

    def lookup(self, p: Placeholder) -> str | None:
        if p.scope == "builtin":
            return self.builtins.get(p.name)
        if p.scope == "vars":
            return self.variables.get(p.name)
        if p.scope == "header":
            return header_text(self.headers.get(p.name))
        return self.query.get(p.name)


class Template:
    """A parsed template; :meth:`render` fills it for one request."""

    __slots__ = ("_paths", "parts", "source")

    def __init__(self, source: str, builtins: Collection[str] = BUILTINS) -> None:
        self.source = source
        self.parts: tuple[str | Placeholder, ...] = tuple(_parse(source, builtins))
        self._paths: dict[str, jsonpath.JSONPath | jsonpath.CompoundJSONPath] = {}
        for p in self.placeholders:
            if p.scope == "body":
                try:
                    self._paths[p.name] = jsonpath.compile(p.name)
                except jsonpath.JSONPathError as exc:
                    raise TemplateError(f"{{{p.name}}}: JSONPath does not compile: {exc}") from None

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    @property
    def variables(self) -> set[str]:
        """Names of the extracted variables the template uses."""
        return {p.name for p in self.placeholders if p.scope == "vars"}

    @property
    def reads_body(self) -> bool:
        """Whether rendering needs the parsed body (a ``{$...}`` placeholder)."""
        return bool(self._paths)

    def render(self, values: TemplateValues) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self._value(part, values)
            out.append(part.default if value is None or value == "" else value)
        return "".join(out)

    def _value(self, part: Placeholder, values: TemplateValues) -> str | None:
        if part.scope == "body":
            return json_value(self._paths[part.name], values.body)
        return values.lookup(part)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _parse(source: str, builtins: Collection[str]) -> list[str | Placeholder]:
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(source):
        literal.append(source[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if m.group(1) is None:
            raise TemplateError(f"unmatched {token!r} at position {m.start()} (write {token * 2} for a literal brace)")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_placeholder(m.group(1), builtins))
    literal.append(source[pos:])
    if any(literal):
        parts.append("".join(literal))
    return parts


def _placeholder(text: str, builtins: Collection[str]) -> Placeholder:
    name, _, default = text.partition("|")
    name = name.strip()
    if name.startswith("$"):
        return Placeholder("body", name, default)
    if name in builtins:
        return Placeholder("builtin", name, default)
    m = _SCOPED.match(name)
    if m is None:
        allowed = ", ".join([*builtins, "vars.NAME", "header.NAME", "query.NAME", "$.json.path"])
        raise TemplateError(f"unknown placeholder {{{name}}}; expected one of {allowed}")
    return Placeholder(m.group(1), m.group(2), default)
