"""Variables extracted from a request, declared per trigger (the Jenkins Generic Webhook Trigger model).

Each variable reads exactly one source: the body (``jsonpath`` for JSON, including a form's JSON
``payload`` field; ``xpath`` for XML; ``form`` for url-encoded and multipart fields), a ``header``,
a ``query`` parameter, or the ``path`` after the trigger id. Values longer than ``max_length``
(default 4096 characters) are cut first, so neither a large JSON subtree nor a long header can bloat
the record or feed a long text to a regex. An optional ``regex`` (searched, RE2: see
:mod:`hookgate.core.regex`) then keeps its first group (or the whole match when it has none), and
``default`` stands in when nothing was found.

Values are strings: JSON strings as they are, other JSON values as compact JSON (``true``, ``3``,
``{"a":1}``), several matches as a JSON array; XPath elements as their text. A variable with no
value and no default is absent, so a filter can test that it ``exists``. JSONPath is hookgate's one
implementation (:mod:`hookgate.core.jsonpath`): a body that is a JSON string is never read as a
document, and a body too deep for a path is an :class:`~hookgate.gateway.shaping.bodies.InvalidBody`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from multidict import MultiDict, MultiMapping
from pydantic import Field, model_validator

from hookgate.core.config import StrictModel
from hookgate.core.jsonpath import NOT_JSON, JsonPath, JsonPathError, JsonPathField, text_of
from hookgate.core.regex import Pattern, Regex
from hookgate.gateway.intake.headertext import header_text
from hookgate.gateway.shaping.bodies import InvalidBody, ParsedBody

if TYPE_CHECKING:
    from lxml import etree

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_LENGTH = 4096
"""Default cap on a variable's length: variables ride in a Kafka header next to the whole body."""
_SOURCES = ("jsonpath", "xpath", "form", "header", "query", "path")


class VariableConfig(StrictModel):
    """Where one variable comes from: exactly one of ``jsonpath``, ``xpath``, ``form``, ``header``,
    ``query`` or ``path: true``, plus an optional ``regex`` and ``default``."""

    jsonpath: JsonPathField | None = Field(
        default=None, description="JSONPath into a JSON body or a form's JSON payload"
    )
    xpath: str | None = Field(default=None, description="XPath 1.0 into an XML body")
    namespaces: dict[str, str] = Field(default_factory=dict, description="XPath namespace prefixes")
    form: str | None = Field(default=None, description="A url-encoded or multipart form field")
    header: str | None = None
    query: str | None = None
    path: bool = Field(default=False, description="The request path after /hooks/{id} (e.g. /deploy/prod)")
    regex: Regex | None = Field(default=None, description="Searched; keep the first group (or the whole match)")
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
        if self.xpath is not None:
            _xpath(self.xpath, self.namespaces)  # a syntax error surfaces at start-up, with its key path
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
    regex: Pattern | None
    default: str | None
    max_length: int = MAX_LENGTH

    def value(self, parts: RequestParts) -> str | None:
        raw: str | None = self.read(parts)
        if raw is not None and len(raw) > self.max_length:
            raw = raw[: self.max_length]  # before the regex: it never sees more than max_length characters
        if raw is not None and self.regex is not None:
            raw = self.regex.first_group(raw)
        return self.default if raw is None else raw


class Extractor:
    """All of a trigger's variables, compiled once."""

    def __init__(self, variables: Mapping[str, VariableConfig]) -> None:
        self._variables = [compile_variable(name, cfg) for name, cfg in variables.items()]
        self.reads_body = any(cfg.reads_body for cfg in variables.values())

    def __bool__(self) -> bool:
        return bool(self._variables)

    def extract(self, parts: RequestParts) -> dict[str, str]:
        """The variables that have a value; raises :class:`InvalidBody` for a body too deep to search."""
        out: dict[str, str] = {}
        for var in self._variables:
            value = var.value(parts)
            if value is not None:
                out[var.name] = value
        return out


def compile_variable(name: str, cfg: VariableConfig) -> Variable:
    """Compile one declaration (its JSONPath and regex were compiled when the config was validated)."""
    return Variable(name, _reader(cfg), cfg.regex, cfg.default, cfg.max_length)


def _xpath(source: str, namespaces: Mapping[str, str]) -> etree.XPath:
    from lxml import etree  # only a trigger with an xpath variable loads lxml here

    try:
        return etree.XPath(source, namespaces=dict(namespaces) or None)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"xpath does not compile: {exc}") from None


def _reader(cfg: VariableConfig) -> Reader:
    if cfg.jsonpath is not None:
        path = cfg.jsonpath
        return lambda parts: json_value(path, parts.body)
    if cfg.xpath is not None:
        xpath = _xpath(cfg.xpath, cfg.namespaces)
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


def json_value(path: JsonPath, body: ParsedBody | None) -> str | None:
    """What ``path`` selects in the body's JSON document, as a variable value (``None``: nothing).

    One node gives its text (``null``: nothing), several a JSON array. Raises :class:`InvalidBody` when
    the document is too deep to search, or a selected value too deep to write as JSON.
    """
    document = body.json if body is not None and body.has_json else NOT_JSON
    try:
        found = path.find(document)
        if not found:
            return None
        if len(found) == 1:
            return None if found[0] is None else text_of(found[0])
        return text_of(found)
    except JsonPathError as exc:
        raise InvalidBody("The JSON body nests too deeply to be read.") from exc


def _from_xml(xpath: etree.XPath, body: ParsedBody | None) -> str | None:
    if body is None or body.xml is None:
        return None
    result = xpath(body.xml)
    if isinstance(result, list):
        texts = [_xml_text(item) for item in result]
        if not texts:
            return None
        return texts[0] if len(texts) == 1 else text_of(texts)
    return _xml_text(result)


def _xml_text(item: Any) -> str:
    from lxml import etree

    if isinstance(item, etree._Element):
        return "".join(str(t) for t in item.itertext())
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else repr(item)
    return str(item)
