"""The YAML form of a subscription match, validated with key paths and compiled to a predicate.

::

    match:
      type: com.github.push            # equality; "com.github.*" is a prefix; [a, b] is one of
      subject: {regex: '^refs/tags/v\\d+'}
      vars: {ref: refs/heads/main}     # variables the gateway extracted
      data: {"$.repository.full_name": {glob: "acme/*"}}   # JSONPath over the JSON body
      extensions: {priority: high}     # any other CloudEvents extension attribute
      any: [{tenant: acme}, {tenant: globex}]
      not: {data: {"$.deleted": true}}

Every key of a mapping must hold (AND). A condition is a value (the compact form) or a mapping of
operators (:mod:`hookgate.core.conditions`): ``equals``, ``in``, ``prefix``, ``suffix``, ``glob``,
``regex`` (searched; anchor with ``^``/``$``), ``fullmatch`` (the whole value) and ``exists``. The match
compiles to hookgate's one predicate engine (:mod:`hookgate.core.predicates`), the gateway filter's too.
Misspelled keys are errors, never silently "an extension that is absent".
"""

from __future__ import annotations

from pydantic import Field, field_validator

from hookgate.core.conditions import Cond, Operators
from hookgate.core.config import StrictModel
from hookgate.core.envelope import valid_extension_name
from hookgate.core.jsonpath import compile_jsonpath
from hookgate.core.predicates import AllOf, AnyOf, Attribute, Body, Everything, Not, Predicate, Variable

ATTRIBUTES = ("id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "tenant", "trigger")


class MatchConfig(StrictModel):
    """Which events a workflow wants; an empty match wants every event."""

    id: Cond | None = None
    source: Cond | None = None
    type: Cond | None = None
    subject: Cond | None = None
    time: Cond | None = None
    datacontenttype: Cond | None = None
    dataschema: Cond | None = None
    tenant: Cond | None = None
    trigger: Cond | None = None
    extensions: dict[str, Cond] = Field(default_factory=dict)
    vars: dict[str, Cond] = Field(default_factory=dict)
    data: dict[str, Cond] = Field(default_factory=dict, description="JSONPath over the JSON body -> condition")
    all: list[MatchConfig] | None = Field(default=None, min_length=1)
    any: list[MatchConfig] | None = Field(default=None, min_length=1)
    not_: MatchConfig | None = Field(default=None, alias="not")

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, v: dict[str, Cond]) -> dict[str, Cond]:
        for name in v:
            if not valid_extension_name(name):
                raise ValueError(f"{name!r}: extension names are lower-case letters and digits (1-20)")
        return v

    @field_validator("data")
    @classmethod
    def _paths(cls, v: dict[str, Cond]) -> dict[str, Cond]:
        for path in v:
            try:
                compile_jsonpath(path)
            except ValueError as exc:
                raise ValueError(f"{path!r}: {exc}") from None
        return v

    def predicate(self) -> Predicate:
        """Compile to a predicate, once (patterns were compiled when the config was validated)."""
        parts: list[Predicate] = []
        for name in ATTRIBUTES:
            cond: Operators | None = getattr(self, name)
            if cond is not None:
                parts.append(Attribute(name, cond.condition()))
        parts.extend(Attribute(n, c.condition()) for n, c in self.extensions.items())
        parts.extend(Variable(n, c.condition()) for n, c in self.vars.items())
        parts.extend(Body(p, c.condition()) for p, c in self.data.items())
        if self.all is not None:
            parts.append(AllOf(m.predicate() for m in self.all))
        if self.any is not None:
            parts.append(AnyOf(m.predicate() for m in self.any))
        if self.not_ is not None:
            parts.append(Not(self.not_.predicate()))
        if not parts:
            return Everything()
        return parts[0] if len(parts) == 1 else AllOf(parts)
