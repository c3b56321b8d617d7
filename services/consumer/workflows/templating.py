"""The placeholders HTTP actions offer, in hookgate's one template language (:mod:`hookgate.core.templates`).

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

Where a placeholder sits decides its rendering mode: percent-encoded in a URL (so a value can never
add a path segment or a query parameter), JSON-encoded in a JSON body (a string leaf that is exactly
one placeholder takes the value's own JSON type), form-encoded in a form body, and refused in a header
when it holds a line break. A value that is absent and has no ``|default:`` fails the action
permanently (no retry can make it appear). There is no expression evaluation of any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookgate.consumer.workflows.event import NOT_JSON, Event
from hookgate.core import templates
from hookgate.core.jsonpath import JsonPathError, compile_jsonpath
from hookgate.core.templates import (
    ABSENT,
    FormTemplate,
    JsonTemplate,
    Lookup,
    Placeholder,
    Scope,
    Sources,
    TemplateError,
    header_escape,
    url_escape,
)

__all__ = [
    "SOURCES",
    "Context",
    "FormTemplate",
    "JsonTemplate",
    "Placeholder",
    "Template",
    "TemplateError",
    "header_escape",
    "parse_form",
    "parse_json",
    "url_escape",
]


@dataclass(frozen=True, slots=True)
class Context:
    """What placeholders read: the event, the workflow's name and the action's secrets."""

    event: Event
    workflow: str
    secrets: Mapping[str, str]


def _attr(name: str) -> Lookup[Context]:
    def lookup(ctx: Context) -> Any:
        value = ctx.event.attribute(name)
        return ABSENT if value is None else value

    return lookup


def _variable(name: str) -> Lookup[Context]:
    return lambda ctx: ctx.event.variables.get(name, ABSENT)


def _secret(name: str) -> Lookup[Context]:
    return lambda ctx: ctx.secrets.get(name, ABSENT)


def _whole_body(ctx: Context) -> Any:
    document = ctx.event.document
    return ctx.event.data.decode("utf-8", "replace") if document is NOT_JSON else document


def _data_path(text: str) -> Lookup[Context]:
    if not text.startswith("$"):
        raise ValueError("expected data or data.$JSONPATH")
    path = compile_jsonpath(text)

    def lookup(ctx: Context) -> Any:
        try:
            nodes = path.find(ctx.event.document)
        except JsonPathError as exc:
            raise TemplateError(str(exc)) from None
        if not nodes:
            return ABSENT
        return nodes[0] if len(nodes) == 1 else nodes

    return lookup


SOURCES: Sources[Context] = Sources(
    names={
        "workflow": lambda ctx: ctx.workflow,
        "vars": lambda ctx: ctx.event.variables,
        "data": _whole_body,
    },
    scopes={
        "attr": Scope(_attr),
        "vars": Scope(_variable),
        "secrets": Scope(_secret),
        "data": Scope(_data_path, shown="$JSONPATH", name=None),
    },
    missing="error",
)


class Template(templates.Template[Context]):
    """An action template, parsed at load. ``reveal=False`` keeps its text out of errors (secret headers)."""

    __slots__ = ()

    def __init__(self, text: str, *, reveal: bool = True) -> None:
        super().__init__(text, SOURCES, reveal=reveal)


def parse_json(document: Any) -> JsonTemplate[Context]:
    """A ``json:`` body whose string leaves are action templates."""
    return JsonTemplate.parse(document, SOURCES)


def parse_form(fields: Mapping[str, str]) -> FormTemplate[Context]:
    """A ``form:`` body whose values are action templates."""
    return FormTemplate.parse(fields, SOURCES)
