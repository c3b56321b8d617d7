"""Variables extracted from a request, declared per trigger (the Jenkins Generic Webhook Trigger model).

Each variable reads exactly one source: the body (``jsonpath`` for JSON, including a form's JSON
``payload`` field; ``xpath`` for XML; ``form`` for url-encoded and multipart fields), a ``header``,
a ``query`` parameter, or the ``path`` after the trigger id. An optional ``regex`` then keeps its
first group (or the whole match when it has none), and ``default`` stands in when nothing was found.

Values are strings: JSON strings as they are, other JSON values as compact JSON (``true``, ``3``,
``{"a":1}``), several matches as a JSON array; XPath elements as their text. A variable with no
value and no default is absent, so a filter can test that it ``exists``. Values longer than
``max_length`` (default 4096 characters) are cut, so a large JSON subtree cannot bloat the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import jsonpath
import orjson
from lxml import etree
from multidict import MultiDict, MultiMapping
from pydantic import Field, model_validator

from hookgate.core.config import StrictModel
from hookgate.gateway.intake.headertext import header_text
from hookgate.gateway.shaping.bodies import ParsedBody

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_LENGTH = 4096
"""Default cap on a variable's length: variables ride in a Kafka header next to the whole body."""
_SOURCES = ("jsonpath", "xpath", "form", "header", "query", "path")


class VariableConfig(StrictModel):
    """Where one variable comes from: exactly one of ``jsonpath``, ``xpath``, ``form``, ``header``,
    ``query`` or ``path: true``, plus an optional ``regex`` and ``default``."""

    jsonpath: str | None = Field(default=None, description="JSONPath into a JSON body or a form's JSON payload")
    xpath: str | None = Field(default=None, description="XPath 1.0 into an XML body")
    namespaces: dict[str, str] = Field(default_factory=dict, description="XPath namespace prefixes")
    form: str | None = Field(default=None, description="A url-encoded or multipart form field")
    header: str | None = None
    query: str | None = None
    path: bool = Field(default=False, description="The request path after /hooks/{id} (e.g. /deploy/prod)")
    regex: str | None = Field(default=None, description="Keep the first group (or the whole match)")
    default: str | None = None
    max_length: int = Field(
        default=MAX_LENGTH, ge=1, le=65_536, description="Longer values are cut to this many characters"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        chosen = [s for s in _SOURCES if getattr(self, s) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(f"set exactly one of {', '.join(_SOURCES)} (got {', '.join(chosen) or 'none'})")
        if self.namespaces and self.xpath is None:
            raise ValueError("namespaces only apply to xpath")
        compile_variable("_", self)  # syntax errors in JSONPath, XPath or regex surface at start-up
        return self

    @property
    def reads_body(self) -> bool:
        return self.jsonpath is not None or self.xpath is not None or self.form is not None


@dataclass(frozen=True, slots=True)
class RequestParts:
    """What extraction reads: headers, query, the path after the trigger id, and the parsed body.

    ``body`` is ``None`` when it was not parsed (nothing needed it, or the trigger accepts raw bodies
    and this one did not parse); body variables then take their defaults.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    query: MultiMapping[str] = field(default_factory=MultiDict)
    path: str = ""
    body: ParsedBody | None = None


Reader = Callable[[RequestParts], str | None]


@dataclass(frozen=True, slots=True)
class Variable:
    """A compiled variable."""

    name: str
    read: Reader
    regex: re.Pattern[str] | None
    default: str | None
    max_length: int = MAX_LENGTH

    def value(self, parts: RequestParts) -> str | None:
        raw: str | None = self.read(parts)
        if raw is not None and self.regex is not None:
            m = self.regex.search(raw)
            raw = (m.group(1) if self.regex.groups else m.group(0)) if m else None
        if raw is None:
            return self.default
        return raw if len(raw) <= self.max_length else raw[: self.max_length]


class Extractor:
    """All of a trigger's variables, compiled once."""

    def __init__(self, variables: Mapping[str, VariableConfig]) -> None:
        self._variables = [compile_variable(name, cfg) for name, cfg in variables.items()]
        self.reads_body = any(cfg.reads_body for cfg in variables.values())

    def __bool__(self) -> bool:
        return bool(self._variables)

    def extract(self, parts: RequestParts) -> dict[str, str]:
        out: dict[str, str] = {}
        for var in self._variables:
            value = var.value(parts)
            if value is not None:
                out[var.name] = value
        return out


def compile_variable(name: str, cfg: VariableConfig) -> Variable:
    """Compile one declaration; raises ``ValueError`` with a readable message on bad syntax."""
    regex = None
    if cfg.regex is not None:
        try:
            regex = re.compile(cfg.regex)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from None
    return Variable(name, _reader(cfg), regex, cfg.default, cfg.max_length)


def _reader(cfg: VariableConfig) -> Reader:
    if cfg.jsonpath is not None:
        try:
            path = jsonpath.compile(cfg.jsonpath)
        except jsonpath.JSONPathError as exc:
            raise ValueError(f"jsonpath does not compile: {exc}") from None
        return lambda parts: json_value(path, parts.body)
    if cfg.xpath is not None:
        try:
            xpath = etree.XPath(cfg.xpath, namespaces=cfg.namespaces or None)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"xpath does not compile: {exc}") from None
        return lambda parts: _from_xml(xpath, parts.body)
    if cfg.form is not None:
        form_field = cfg.form
        return lambda parts: parts.body.form.get(form_field) if parts.body is not None else None
    if cfg.header is not None:
        header = cfg.header
        return lambda parts: header_text(parts.headers.get(header))
    if cfg.query is not None:
        query = cfg.query
        return lambda parts: parts.query.get(query)
    return lambda parts: parts.path


def json_value(path: jsonpath.JSONPath | jsonpath.CompoundJSONPath, body: ParsedBody | None) -> str | None:
    """What ``path`` selects in the body's JSON document, as a variable value (``None``: nothing)."""
    if body is None or not body.has_json:
        return None
    found = path.findall(body.json)
    if not found:
        return None
    if len(found) == 1:
        return json_text(found[0])
    return orjson.dumps(found).decode()


def json_text(value: Any) -> str | None:
    """A JSON value as a variable: strings as they are, ``null`` as absent, the rest as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _from_xml(xpath: etree.XPath, body: ParsedBody | None) -> str | None:
    if body is None or body.xml is None:
        return None
    result = xpath(body.xml)
    if isinstance(result, list):
        texts = [_xml_text(item) for item in result]
        if not texts:
            return None
        return texts[0] if len(texts) == 1 else orjson.dumps(texts).decode()
    return _xml_text(result)


def _xml_text(item: Any) -> str:
    if isinstance(item, etree._Element):
        return "".join(str(t) for t in item.itertext())
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else repr(item)
    return str(item)
