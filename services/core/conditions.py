"""The YAML form of a condition on one value, shared by the ingress filter and workflow matches.

A condition is a mapping of operators, every one of which must hold::

    {equals: x}  {in: [x, y]}  {prefix: x}  {suffix: x}  {glob: "acme/*"}
    {regex: '^v\\d+'}   # searched: anchor with ^ and $
    {fullmatch: 'main|release/.+'}   # the whole value
    {exists: true}

or, in a match, a compact value: ``"x"`` equals, ``"x*"`` starts with, ``[a, b]`` one of. Patterns are
compiled here, at load (:mod:`hookgate.core.regex`), so a bad one is an error naming its key path.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from hookgate.core.config import StrictModel
from hookgate.core.predicates import MISSING, Condition, Scalar
from hookgate.core.regex import Glob, Regex

OPERATORS = ("equals", "in", "prefix", "suffix", "glob", "regex", "fullmatch", "exists")
OPERATOR_FIELDS = frozenset(("equals", "in_", "prefix", "suffix", "glob", "regex", "fullmatch", "exists"))


class Operators(StrictModel):
    """A condition on one value; every operator given must hold."""

    equals: Scalar = Field(default=None, description="The value (a string compares with a number by text)")
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1, description="One of these values")
    prefix: str | None = Field(default=None, description="Starts with")
    suffix: str | None = Field(default=None, description="Ends with")
    glob: Glob | None = Field(default=None, description="Shell pattern over the whole value (or a list: any)")
    regex: Regex | None = Field(default=None, description="Regular expression searched in the value")
    fullmatch: Regex | None = Field(default=None, description="Regular expression the whole value must match")
    exists: bool | None = Field(default=None, description="true: the value is present; false: it is absent")

    @model_validator(mode="after")
    def _some(self) -> Self:
        if not self.model_fields_set & OPERATOR_FIELDS:
            raise ValueError(f"expected at least one of {', '.join(OPERATORS)}")
        return self

    def condition(self) -> Condition:
        """The compiled condition (patterns were compiled when the model was validated)."""
        return Condition(
            equals=self.equals if "equals" in self.model_fields_set else MISSING,
            one_of=tuple(self.in_) if self.in_ is not None else None,
            prefix=self.prefix,
            suffix=self.suffix,
            glob=self.glob,
            regex=self.regex,
            fullmatch=self.fullmatch,
            exists=self.exists,
        )


def compact(value: Any) -> Any:
    """The compact forms as operator mappings: ``"x"`` equals, ``"x*"`` prefix, ``[a, b]`` in."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"in": value}
    if isinstance(value, str) and value.endswith("*"):
        return {"prefix": value[:-1]}
    return {"equals": value}


Cond = Annotated[Operators, BeforeValidator(compact)]
"""A condition written either compactly or as a mapping of operators."""
