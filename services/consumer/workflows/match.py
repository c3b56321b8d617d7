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

:func:`describe` says in plain words what a match tests (the consumer logs it per workflow at start-up,
``hookgate check-config --handlers`` prints it) and :func:`variables_used` which gateway variables it
reads, so a match on a variable no trigger extracts can be caught before it silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict, Unpack

import orjson

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
    "describe",
    "everything",
    "not_",
    "source",
    "subject",
    "tenant",
    "trigger",
    "type",
    "var",
    "variables_used",
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


def describe(predicate: Predicate) -> str:
    """What ``predicate`` tests, in plain words: ``type is com.github.push and vars.ref is refs/heads/main``.

    Pure and deterministic (parts appear in the order the predicate tests them: attributes, then
    variables, then the body), so it can be logged, printed and compared in tests.
    """
    return _words(predicate, top=True)


def _words(p: Predicate, *, top: bool = False) -> str:
    if isinstance(p, Everything):
        return "every event"
    if isinstance(p, AllOf | AnyOf):
        if not p.parts:
            return "every event" if isinstance(p, AllOf) else "no event"
        joined = (" and " if isinstance(p, AllOf) else " or ").join(_words(part) for part in p.parts)
        return joined if top or len(p.parts) == 1 else f"({joined})"
    if isinstance(p, Not):
        return f"not {_words(p.part)}" if isinstance(p.part, AllOf | AnyOf) else f"not ({_words(p.part, top=True)})"
    if isinstance(p, Attribute | Variable | Body):
        return f"{_subject(p)} {_condition_words(p.cond)}"
    return p.describe()  # a predicate class of the caller's own


def _subject(p: Attribute | Variable | Body) -> str:
    if isinstance(p, Attribute):
        return p.name
    if isinstance(p, Variable):
        return f"vars.{p.name}"
    return f"data {p.path}"


def _condition_words(cond: Condition) -> str:
    parts: list[str] = []
    if not isinstance(cond.equals, Missing):
        parts.append(f"is {_value(cond.equals)}")
    if cond.one_of is not None and len(cond.one_of) == 1:
        parts.append(f"is {_value(cond.one_of[0])}")
    elif cond.one_of is not None:
        parts.append("is one of " + ", ".join(_value(v) for v in cond.one_of))
    if cond.prefix is not None:
        parts.append(f"starts with {_value(cond.prefix)}")
    if cond.suffix is not None:
        parts.append(f"ends with {_value(cond.suffix)}")
    if cond.glob is not None:
        parts.append(f"matches glob {_value(str(cond.glob))}")
    if cond.regex is not None:
        parts.append(f"contains a match of /{cond.regex}/")
    if cond.fullmatch is not None:
        parts.append(f"fully matches /{cond.fullmatch}/")
    if cond.exists is False:
        parts.append("is absent")
    elif cond.exists is True and not parts:
        parts.append("is present")
    return " and ".join(parts) or "is present"


_PLAIN_PUNCTUATION = frozenset("./:-_*@+#~")


def _value(value: Any) -> str:
    """A string bare when it reads unambiguously (``refs/heads/main``), else as JSON; other values as JSON."""
    if isinstance(value, str):
        plain = value and all(c.isalnum() or c in _PLAIN_PUNCTUATION for c in value)
        if plain and value not in ("and", "or", "not", "true", "false", "null"):
            return value
    return orjson.dumps(value).decode()


def describe_workflow(workflow: object) -> str:
    """:func:`describe` of a workflow's match (YAML and SDK workflows have a ``predicate``)."""
    predicate = getattr(workflow, "predicate", None)
    return describe(predicate) if isinstance(predicate, Predicate) else "(a custom workflow: its match is code)"


def variables_used(predicate: Predicate) -> set[str]:
    """The names of the gateway variables (``vars``) ``predicate`` reads anywhere, negations included."""
    return {p.name for p in _leaves(predicate) if isinstance(p, Variable)}


def _leaves(p: Predicate) -> Iterator[Predicate]:
    if isinstance(p, AllOf | AnyOf):
        for part in p.parts:
            yield from _leaves(part)
    elif isinstance(p, Not):
        yield from _leaves(p.part)
    else:
        yield p


# Defined last: from here on the module-level name ``type`` is the attribute matcher, not the builtin.
def type(value: Value = MISSING, **ops: Unpack[Ops]) -> Predicate:
    """The CloudEvents ``type``, e.g. ``type("com.github.push")`` or ``type("com.github.*")``."""
    return attr("type", value, **ops)
