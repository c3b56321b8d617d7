"""Compiled subscription predicates: pure functions of an :class:`Event`, built once at load.

A predicate tests one *value source* (a context attribute, an extracted variable, or a JSONPath over
the JSON body) against a :class:`Condition`, and predicates combine with ``&``, ``|`` and ``~``
(``all``/``any``/``not`` in YAML). Regexes and JSONPaths are compiled when the predicate is built,
never per event. Nothing here does I/O.
"""

from __future__ import annotations

import fnmatch
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import jsonpath
import orjson

from hookgate.consumer.workflows.event import NOT_JSON, Event, event_of
from hookgate.core.envelope import Envelope

Scalar = str | int | float | bool | None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""``equals`` not given (distinct from ``equals: null``)."""


def text_of(value: Any) -> str:
    """The text form a string operator (prefix, glob, regex) sees: strings as-is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def same_value(actual: Any, expected: Scalar) -> bool:
    """Equality that never confuses ``true`` with ``1``, and compares a string with a number by text.

    Attributes are always strings while YAML reads ``subject: 42`` as a number; comparing by text when
    either side is a string makes both spellings work.
    """
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, str) or isinstance(expected, str):
        return expected is not None and text_of(actual) == text_of(expected)
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    return actual is None and expected is None


@dataclass(frozen=True, slots=True)
class Condition:
    """What a value must satisfy; every given operator must hold (AND).

    With several values (a JSONPath matching many nodes) the condition holds when one value satisfies
    every operator. No value at all satisfies nothing except ``exists=False``.
    """

    equals: Scalar | _Missing = MISSING
    one_of: tuple[Scalar, ...] | None = None
    prefix: str | None = None
    suffix: str | None = None
    glob: str | None = None
    regex: re.Pattern[str] | None = None
    exists: bool | None = None

    @classmethod
    def shorthand(cls, value: Scalar | list[Scalar] | tuple[Scalar, ...]) -> Condition:
        """``"x"`` equals, ``"x*"`` prefix, ``[a, b]`` one of: the compact forms of YAML and the SDK."""
        if isinstance(value, str) and value.endswith("*"):
            return cls(prefix=value[:-1])
        if isinstance(value, (list, tuple)):
            return cls(one_of=tuple(value))
        return cls(equals=value)

    def has_value_ops(self) -> bool:
        """True when some operator tests the value itself (anything but ``exists``)."""
        return not (
            isinstance(self.equals, _Missing)
            and self.one_of is None
            and self.prefix is None
            and self.suffix is None
            and self.glob is None
            and self.regex is None
        )

    def _one(self, value: Any) -> bool:
        if not isinstance(self.equals, _Missing) and not same_value(value, self.equals):
            return False
        if self.one_of is not None and not any(same_value(value, e) for e in self.one_of):
            return False
        if self.prefix is None and self.suffix is None and self.glob is None and self.regex is None:
            return True
        text = text_of(value)
        if self.prefix is not None and not text.startswith(self.prefix):
            return False
        if self.suffix is not None and not text.endswith(self.suffix):
            return False
        if self.glob is not None and not fnmatch.fnmatchcase(text, self.glob):
            return False
        return self.regex is None or self.regex.search(text) is not None

    def test(self, values: Sequence[Any]) -> bool:
        if self.exists is not None and bool(values) != self.exists:
            return False
        if not self.has_value_ops():
            return self.exists is not None or bool(values)
        return any(self._one(v) for v in values)

    def describe(self) -> str:
        parts = []
        if not isinstance(self.equals, _Missing):
            parts.append(f"== {self.equals!r}")
        if self.one_of is not None:
            parts.append(f"in {list(self.one_of)!r}")
        for name in ("prefix", "suffix", "glob"):
            if (v := getattr(self, name)) is not None:
                parts.append(f"{name} {v!r}")
        if self.regex is not None:
            parts.append(f"regex {self.regex.pattern!r}")
        if self.exists is not None:
            parts.append("exists" if self.exists else "absent")
        return " and ".join(parts) or "exists"


class Predicate(ABC):
    """A test of one event; combine with ``&``, ``|`` and ``~``. Call it with an :class:`Envelope`."""

    __slots__ = ()

    @abstractmethod
    def test(self, event: Event) -> bool:
        """True when ``event`` matches."""

    def __call__(self, envelope: Envelope) -> bool:
        return self.test(event_of(envelope))

    def __and__(self, other: Predicate) -> Predicate:
        return AllOf((self, other))

    def __or__(self, other: Predicate) -> Predicate:
        return AnyOf((self, other))

    def __invert__(self) -> Predicate:
        return Not(self)

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for logs and ``repr``."""

    def __repr__(self) -> str:
        return f"<match {self.describe()}>"


class Everything(Predicate):
    """Matches every event (an empty ``match:``)."""

    __slots__ = ()

    def test(self, event: Event) -> bool:
        return True

    def describe(self) -> str:
        return "everything"


class AllOf(Predicate):
    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[Predicate]) -> None:
        # Flatten a & b & c into one node and test cheap attribute predicates before body predicates.
        flat: list[Predicate] = []
        for p in parts:
            flat.extend(p.parts if isinstance(p, AllOf) else (p,))
        self.parts: tuple[Predicate, ...] = tuple(sorted(flat, key=_cost))

    def test(self, event: Event) -> bool:
        return all(p.test(event) for p in self.parts)

    def describe(self) -> str:
        return "(" + " and ".join(p.describe() for p in self.parts) + ")" if self.parts else "everything"


class AnyOf(Predicate):
    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[Predicate]) -> None:
        flat: list[Predicate] = []
        for p in parts:
            flat.extend(p.parts if isinstance(p, AnyOf) else (p,))
        self.parts: tuple[Predicate, ...] = tuple(sorted(flat, key=_cost))

    def test(self, event: Event) -> bool:
        return any(p.test(event) for p in self.parts)

    def describe(self) -> str:
        return "(" + " or ".join(p.describe() for p in self.parts) + ")" if self.parts else "nothing"


class Not(Predicate):
    __slots__ = ("part",)

    def __init__(self, part: Predicate) -> None:
        self.part = part

    def test(self, event: Event) -> bool:
        return not self.part.test(event)

    def describe(self) -> str:
        return f"not {self.part.describe()}"


class Attribute(Predicate):
    """A CloudEvents context attribute (``type``, ``source``, ``subject``, ``tenant``, any extension)."""

    __slots__ = ("cond", "name")

    def __init__(self, name: str, cond: Condition) -> None:
        self.name, self.cond = name, cond

    def test(self, event: Event) -> bool:
        value = event.attribute(self.name)
        return self.cond.test(() if value is None else (value,))

    def describe(self) -> str:
        return f"{self.name} {self.cond.describe()}"


class Variable(Predicate):
    """A variable the gateway extracted (the ``vars`` extension)."""

    __slots__ = ("cond", "name")

    def __init__(self, name: str, cond: Condition) -> None:
        self.name, self.cond = name, cond

    def test(self, event: Event) -> bool:
        variables = event.variables
        return self.cond.test((variables[self.name],) if self.name in variables else ())

    def describe(self) -> str:
        return f"vars.{self.name} {self.cond.describe()}"


def compile_jsonpath(path: str) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    """Compile once; raises ``ValueError`` naming the problem when ``path`` is not a JSONPath."""
    if not path.startswith("$"):
        raise ValueError("a JSONPath starts with '$'")
    try:
        return jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a valid JSONPath: {first}") from None


def find_all(compiled: jsonpath.JSONPath | jsonpath.CompoundJSONPath, document: Any) -> list[Any]:
    """The nodes ``compiled`` selects in a parsed JSON document (empty when the body is not JSON)."""
    if document is NOT_JSON:
        return []
    if not isinstance(document, (dict, list)):
        # python-jsonpath would read a bare string as a JSON document; a scalar body only has a root.
        return [document] if str(compiled) == "$" else []
    try:
        return list(compiled.findall(document))
    except jsonpath.JSONPathError:
        return []


class Body(Predicate):
    """A JSONPath over the JSON body; the body is parsed at most once per event, on first need."""

    __slots__ = ("compiled", "cond", "path")

    def __init__(self, path: str, cond: Condition) -> None:
        self.path, self.cond = path, cond
        self.compiled = compile_jsonpath(path)

    def test(self, event: Event) -> bool:
        return self.cond.test(find_all(self.compiled, event.json_data))

    def describe(self) -> str:
        return f"data {self.path} {self.cond.describe()}"


def _cost(p: Predicate) -> int:
    if isinstance(p, (Attribute, Everything)):
        return 0
    if isinstance(p, Variable):
        return 1
    return 2
