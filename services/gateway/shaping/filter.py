"""The ingress filter: which verified requests a trigger turns into events.

A request passes when its CloudEvents type matches one of ``types`` (glob patterns; none means
any type) and its variables satisfy the ``conditions`` (``all`` of them by default, or ``any``).
A request that does not pass is answered ``200 {"ignored": true}``, so the sender does not retry,
and is not produced.

A condition names a variable and takes the operators every condition in hookgate takes
(:mod:`hookgate.core.conditions`: ``equals``, ``in``, ``prefix``, ``suffix``, ``glob``, ``regex``
searched, ``fullmatch`` over the whole value, ``exists``), or combines conditions with ``not``,
``any`` and ``all``. The filter compiles to the same predicate engine as workflow matches
(:mod:`hookgate.core.predicates`) and reads the request's facts before any event exists.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from hookgate.core.conditions import OPERATOR_FIELDS, OPERATORS, Operators
from hookgate.core.config import StrictModel
from hookgate.core.predicates import AllOf, AnyOf, Attribute, Condition, Facts, Not, Predicate, Variable
from hookgate.core.regex import compile_glob

IGNORED_TYPE = "type_filtered"
IGNORED_CONDITION = "condition_filtered"
_COMBINATORS = ("not", "any", "all")


class ConditionConfig(Operators):
    """A test on one extracted variable (``var`` plus operators), or ``not``/``any``/``all`` of conditions.

    ``equals`` with a list is the same as ``in`` (the filter's original spelling).
    """

    var: str | None = Field(default=None, description="The variable tested")
    not_: ConditionConfig | None = Field(default=None, alias="not", description="This condition must not hold")
    any_: list[ConditionConfig] | None = Field(default=None, alias="any", min_length=1)
    all_: list[ConditionConfig] | None = Field(default=None, alias="all", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _equals_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("equals"), list):
            if "in" in data:
                raise ValueError("equals with a list means in: set one of them")
            data = {**data, "in": data["equals"]}
            del data["equals"]
        return data

    @model_validator(mode="after")
    def _some(self) -> Self:  # replaces Operators._some: a combinator has no operators of its own
        combinators = [k for k, v in zip(_COMBINATORS, (self.not_, self.any_, self.all_), strict=True) if v]
        operators = self.model_fields_set & OPERATOR_FIELDS
        if combinators:
            if len(combinators) > 1 or operators or self.var is not None:
                raise ValueError("not, any and all each stand alone in a condition")
            return self
        if not self.var:
            raise ValueError("a condition names a variable (var) or combines conditions (not, any, all)")
        if not operators:
            raise ValueError(f"expected at least one of {', '.join(OPERATORS)}")
        return self

    @property
    def variables(self) -> set[str]:
        """Every variable this condition (and those it combines) reads."""
        names = {self.var} if self.var is not None else set()
        for sub in (*(self.any_ or ()), *(self.all_ or ()), *((self.not_,) if self.not_ else ())):
            names |= sub.variables
        return names

    def predicate(self) -> Predicate:
        if self.not_ is not None:
            return Not(self.not_.predicate())
        if self.any_ is not None:
            return AnyOf(c.predicate() for c in self.any_)
        if self.all_ is not None:
            return AllOf(c.predicate() for c in self.all_)
        assert self.var is not None
        return Variable(self.var, self.condition())


class FilterConfig(StrictModel):
    """A trigger's ``filter`` section."""

    types: list[str] = Field(default_factory=list, description="Glob patterns of accepted CloudEvents types")
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionConfig] = Field(default_factory=list)

    @field_validator("types")
    @classmethod
    def _globs(cls, v: list[str]) -> list[str]:
        if v:
            compile_glob(v)
        return v

    def build(self) -> IngressFilter:
        return IngressFilter(self)


class IngressFilter:
    """A compiled :class:`FilterConfig`: two predicates, so an ignored request says which one failed."""

    __slots__ = ("_conditions", "_types")

    def __init__(self, cfg: FilterConfig) -> None:
        self._types: Predicate | None = (
            Attribute("type", Condition(glob=compile_glob(cfg.types))) if cfg.types else None
        )
        parts = [c.predicate() for c in cfg.conditions]
        combined = AllOf(parts) if cfg.match == "all" else AnyOf(parts)
        self._conditions: Predicate | None = combined if parts else None

    def ignore_reason(self, facts: Facts) -> str | None:
        """Why the request is ignored (a metrics reason), or ``None`` when it passes."""
        if self._types is not None and not self._types.test(facts):
            return IGNORED_TYPE
        if self._conditions is not None and not self._conditions.test(facts):
            return IGNORED_CONDITION
        return None
