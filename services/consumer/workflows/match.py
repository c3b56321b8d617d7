"""Build subscription matches in Python: the SDK's ``match`` namespace.

::

    from hookgate.consumer import match

    match.type("com.github.push") & match.var("ref", "refs/heads/main")
    match.tenant(["acme", "globex"]) & ~match.data("$.deleted", True)
    match.type("com.github.*") | match.subject(regex=r"^release/")

The first positional value is the compact form YAML uses (``"x"`` equals, ``"x*"`` prefix, a list
means one of); keywords give the other operators (``prefix``, ``suffix``, ``glob``, ``regex``
searched, ``fullmatch`` over the whole value, ``exists``, ``one_of``, ``equals``), with the meaning
they have in YAML. Several operators must all hold. Patterns (RE2) and JSONPaths are compiled here,
once; a bad one raises ``ValueError``. Every function returns a :class:`~hookgate.core.predicates.Predicate`.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

from hookgate.core.predicates import (
    MISSING,
    OPERATOR_NAMES,
    AllOf,
    AnyOf,
    Attribute,
    Body,
    Condition,
    Everything,
    Missing,
    Not,
    Predicate,
    Scalar,
    Variable,
)
from hookgate.core.regex import compile_glob, compile_regex

__all__ = [
    "Predicate",
    "all_of",
    "any_of",
    "attr",
    "data",
    "everything",
    "not_",
    "source",
    "subject",
    "tenant",
    "trigger",
    "type",
    "var",
]

Value = Scalar | list[Scalar] | tuple[Scalar, ...] | Missing


class Ops(TypedDict, total=False):
    """The explicit operators; every one given must hold."""

    equals: Scalar
    one_of: list[Scalar] | tuple[Scalar, ...]
    prefix: str
    suffix: str
    glob: str
    regex: str
    fullmatch: str
    exists: bool


def condition(
    value: Value = MISSING,
    *,
    equals: Scalar | Missing = MISSING,
    one_of: list[Scalar] | tuple[Scalar, ...] | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    glob: str | None = None,
    regex: str | None = None,
    fullmatch: str | None = None,
    exists: bool | None = None,
) -> Condition:
    """A :class:`Condition` from the compact positional form and/or explicit operators."""
    base = Condition() if isinstance(value, Missing) else Condition.shorthand(value)
    explicit = Condition(
        equals=equals,
        one_of=tuple(one_of) if one_of is not None else None,
        prefix=prefix,
        suffix=suffix,
        glob=compile_glob(glob) if glob is not None else None,
        regex=compile_regex(regex) if regex is not None else None,
        fullmatch=compile_regex(fullmatch) if fullmatch is not None else None,
        exists=exists,
    )
    merged = {f: getattr(explicit, f) if _given(getattr(explicit, f)) else getattr(base, f) for f in OPERATOR_NAMES}
    cond = Condition(**merged)
    if not cond.has_value_ops() and cond.exists is None:
        return Condition(exists=True)
    return cond


def _given(v: object) -> bool:
    return v is not None and not isinstance(v, Missing)


def attr(name: str, value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    """A context attribute by CloudEvents name (``type``, ``source``, ``subject``, any extension)."""
    return Attribute(name, condition(value, **ops))


def source(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    return attr("source", value, **ops)


def subject(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    return attr("subject", value, **ops)


def tenant(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    return attr("tenant", value, **ops)


def trigger(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    return attr("trigger", value, **ops)


def var(name: str, value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    """A variable the gateway extracted for this event (``vars``)."""
    return Variable(name, condition(value, **ops))


def data(path: str, value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    """A JSONPath over the JSON body, e.g. ``data("$.repository.full_name", "acme/api")``."""
    return Body(path, condition(value, **ops))


def all_of(*parts: Predicate) -> Predicate:
    return AllOf(parts)


def any_of(*parts: Predicate) -> Predicate:
    return AnyOf(parts)


def not_(part: Predicate) -> Predicate:
    return Not(part)


def everything() -> Predicate:
    return Everything()


# Defined last: from here on the module-level name ``type`` is the attribute matcher, not the builtin.
def type(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    """The CloudEvents ``type``, e.g. ``type("com.github.push")`` or ``type("com.github.*")``."""
    return attr("type", value, **ops)
