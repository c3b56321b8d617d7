"""The ingress filter: which verified requests a trigger turns into events.

A request passes when its CloudEvents type matches one of ``types`` (glob patterns; none means
any type) and its variables satisfy the ``conditions`` (``all`` of them by default, or ``any``).
A request that does not pass is answered ``200 {"ignored": true}``, so the sender does not retry,
and is not produced.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import Field, model_validator

from hookgate.core.config import StrictModel

IGNORED_TYPE = "type_filtered"
IGNORED_CONDITION = "condition_filtered"


class ConditionConfig(StrictModel):
    """A test on one extracted variable: exactly one of ``equals``, ``regex`` (full match) or ``exists``."""

    var: str
    equals: str | list[str] | None = Field(default=None, description="The value, or a list of accepted values")
    regex: str | None = Field(default=None, description="The whole value must match")
    exists: bool | None = Field(default=None, description="true: the variable has a value; false: it has none")

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        tests = [n for n in ("equals", "regex", "exists") if getattr(self, n) is not None]
        if len(tests) != 1:
            raise ValueError(f"set exactly one of equals, regex, exists (got {', '.join(tests) or 'none'})")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        return self


class FilterConfig(StrictModel):
    """A trigger's ``filter`` section."""

    types: list[str] = Field(default_factory=list, description="Glob patterns of accepted CloudEvents types")
    match: Literal["all", "any"] = "all"
    conditions: list[ConditionConfig] = Field(default_factory=list)

    def build(self) -> IngressFilter:
        return IngressFilter(self)


@dataclass(frozen=True, slots=True)
class Condition:
    var: str
    equals: frozenset[str] | None
    regex: re.Pattern[str] | None
    exists: bool | None

    def holds(self, variables: Mapping[str, str]) -> bool:
        value = variables.get(self.var)
        if self.exists is not None:
            return (value is not None) is self.exists
        if value is None:
            return False
        if self.equals is not None:
            return value in self.equals
        assert self.regex is not None
        return self.regex.fullmatch(value) is not None


class IngressFilter:
    """A compiled :class:`FilterConfig`."""

    def __init__(self, cfg: FilterConfig) -> None:
        self._types = re.compile("|".join(fnmatch.translate(t) for t in cfg.types)) if cfg.types else None
        self._all = cfg.match == "all"
        self._conditions = [
            Condition(
                c.var,
                frozenset([c.equals] if isinstance(c.equals, str) else c.equals) if c.equals is not None else None,
                re.compile(c.regex) if c.regex is not None else None,
                c.exists,
            )
            for c in cfg.conditions
        ]

    def ignore_reason(self, event_type: str, variables: Mapping[str, str]) -> str | None:
        """Why the request is ignored (a metrics reason), or ``None`` when it passes."""
        if self._types is not None and self._types.match(event_type) is None:
            return IGNORED_TYPE
        if self._conditions:
            results = (c.holds(variables) for c in self._conditions)
            if not (all(results) if self._all else any(results)):
                return IGNORED_CONDITION
        return None
