"""The gateway's templates (CloudEvents ``type``, ``subject``, the record key) and the facts of a request.

The language is hookgate's one template language (:mod:`hookgate.core.templates`): ``{source}`` or
``{source|default:TEXT}``, ``{{``/``}}`` for literal braces. The gateway offers these sources:

- ``tenant``, ``trigger``, ``id``, ``type``, ``subject``: the event's own values;
- ``vars.NAME``: a variable extracted for the trigger (see :mod:`hookgate.gateway.shaping.extract`);
- ``header.NAME``: a request header (case-insensitive, first value);
- ``query.NAME``: a query parameter (first value);
- ``$...``: a JSONPath into the JSON body (or a form's JSON ``payload``), e.g. ``{$.action}``; the value
  follows the rules of JSONPath variables. Such a path holds no ``|``, ``{`` or ``}``: declare a
  variable for those.

An empty value counts as no value; a placeholder with no value renders as its default, or as nothing.
:class:`TemplateValues` is also what the ingress filter tests (:class:`hookgate.core.predicates.Facts`).

A trigger's ``event_id`` template (:class:`IdTemplate`) reads the same sources except the event's own
``id``, ``type`` and ``subject`` (the id comes first), and gives no id at all when a placeholder without
a default has no value: ``"{vars.repo}:{header.Idempotency-Key}"`` must not become ``"acme/app:"`` for
every request that lacks the header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

from hookgate.core import templates
from hookgate.core.jsonpath import NOT_JSON, JsonPath
from hookgate.core.templates import ABSENT, Lookup, Scope, Sources, TemplateError
from hookgate.gateway.intake.headertext import header_text
from hookgate.gateway.shaping.bodies import ParsedBody
from hookgate.gateway.shaping.extract import json_value

__all__ = ["BUILTINS", "ID_SOURCES", "SOURCES", "IdTemplate", "Template", "TemplateError", "TemplateValues"]

BUILTINS = ("tenant", "trigger", "id", "type", "subject")


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """Everything a template or the ingress filter may read while shaping one request."""

    builtins: dict[str, str] = field(default_factory=dict)  # filled in as the event takes shape
    variables: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    query: MultiMapping[str] | Mapping[str, str] = field(default_factory=dict)
    body: ParsedBody | None = None

    def attribute(self, name: str) -> str | None:
        """The event's own values (``type``, ``subject``, ``tenant``, ``trigger``, ``id``); ``None`` when unset."""
        return self.builtins.get(name) or None

    @property
    def document(self) -> Any:
        """The parsed JSON body (or a form's JSON ``payload``); ``NOT_JSON`` when there is none."""
        body = self.body
        return body.json if body is not None and body.has_json else NOT_JSON


def _present(value: str | None) -> Any:
    return value if value else ABSENT


def _builtin(name: str) -> Lookup[TemplateValues]:
    return lambda v: _present(v.builtins.get(name))


def _body(path: JsonPath) -> Lookup[TemplateValues]:
    return lambda v: _present(json_value(path, v.body))


SOURCES: Sources[TemplateValues] = Sources(
    names={name: _builtin(name) for name in BUILTINS},
    scopes={
        "vars": Scope(lambda name: lambda v: _present(v.variables.get(name))),
        "header": Scope(lambda name: lambda v: _present(header_text(v.headers.get(name)))),
        "query": Scope(lambda name: lambda v: _present(v.query.get(name))),
    },
    jsonpath=_body,
    missing="empty",
)


ID_BUILTINS = ("tenant", "trigger")
"""The event's own values an ``event_id`` template may use: those known before the id."""

ID_SOURCES: Sources[TemplateValues] = Sources(
    names={name: SOURCES.names[name] for name in ID_BUILTINS},
    scopes=SOURCES.scopes,
    jsonpath=SOURCES.jsonpath,
    missing="error",  # a placeholder without a value and without a default: no id from the template
)


class Template(templates.Template[TemplateValues]):
    """A gateway template, parsed at load; :meth:`render` fills it for one request."""

    __slots__ = ()

    def __init__(self, text: str) -> None:
        super().__init__(text, SOURCES)

    @property
    def variables(self) -> set[str]:
        """Names of the extracted variables the template uses."""
        return {p.name for p in self.placeholders if p.scope == "vars" and p.name is not None}

    @property
    def reads_body(self) -> bool:
        """Whether rendering needs the parsed body (a ``{$...}`` placeholder)."""
        return any(p.scope == "$" for p in self.placeholders)


class IdTemplate(Template):
    """A trigger's ``event_id`` template (:data:`ID_SOURCES`); :meth:`event_id` renders it for one request."""

    __slots__ = ()

    def __init__(self, text: str) -> None:
        templates.Template.__init__(self, text, ID_SOURCES)

    def event_id(self, values: TemplateValues) -> str | None:
        """The rendered id, or ``None`` when a placeholder has no value (or all of it renders empty).

        Raises :class:`~hookgate.gateway.shaping.bodies.InvalidBody` when a JSONPath finds the body too deep.
        """
        try:
            return self.render(values) or None
        except TemplateError:
            return None
