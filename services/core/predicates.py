"""One predicate engine: the gateway's ingress filter and the consumers' workflow matches compile to it.

A predicate tests one *value source* (a context attribute, an extracted variable, or a JSONPath over
the JSON body) against a :class:`Condition`, and predicates combine with ``&``, ``|`` and ``~``
(``all``/``any``/``not`` in YAML). Everything is compiled when the predicate is built, at load; testing
is pure (no I/O, no state) and reads only the :class:`Facts` it is given, so the gateway can test a
request before any CloudEvent exists, and a consumer an event it read from Kafka.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final, Protocol, runtime_checkable

from hookgate.core.jsonpath import JsonPath, JsonPathError, compile_jsonpath, text_of
from hookgate.core.regex import Pattern

Scalar = str | int | float | bool | None


@runtime_checkable
class Facts(Protocol):
    """What a predicate may read: the gateway's shaped request and the consumer's event both offer it."""

    def attribute(self, name: str) -> str | None:
        """A context attribute (``type``, ``subject``, ``tenant``, ``trigger``, ...); ``None`` when absent."""
        ...

    @property
    def variables(self) -> Mapping[str, Any]:
        """The variables the gateway extracted."""
        ...

    @property
    def document(self) -> Any:
        """The parsed JSON body, or :data:`hookgate.core.jsonpath.NOT_JSON`."""
        ...


@functools.singledispatch
def facts_of(subject: object) -> Facts:
    """The :class:`Facts` of ``subject``; a service registers its own types (the consumer: ``Envelope``)."""
    if isinstance(subject, Facts):
        return subject
    raise TypeError(f"a predicate tests Facts, not {type(subject).__name__}")


class Missing:
    """The type of :data:`MISSING`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing()
"""``equals`` not given (distinct from ``equals: null``)."""


def same_value(actual: Any, expected: Scalar) -> bool:
    """Equality that never confuses ``true`` with ``1``, and compares a string with a number by text.

    Attributes and gateway variables are strings while YAML reads ``subject: 42`` as a number; comparing
    by text when either side is a string makes both spellings work.
    """
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(actual, str) or isinstance(expected, str):
        return expected is not None and _text(actual) == _text(expected)
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    return actual is None and expected is None


def _text(value: Any) -> str | None:
    """The text a string operator sees; ``None`` for a value too deep to write (it satisfies no operator)."""
    try:
        return text_of(value)
    except JsonPathError:
        return None


@dataclass(frozen=True, slots=True)
class Condition:
    """What a value must satisfy; every given operator must hold (AND).

    With several values (a JSONPath matching many nodes) the condition holds when one value satisfies
    every operator. No value at all satisfies nothing except ``exists=False``. String operators see
    non-string values as compact JSON. ``regex`` is searched, ``fullmatch`` and ``glob`` match the
    whole value (see :mod:`hookgate.core.regex`).
    """

    equals: Scalar | Missing = MISSING
    one_of: tuple[Scalar, ...] | None = None
    prefix: str | None = None
    suffix: str | None = None
    glob: Pattern | None = None
    regex: Pattern | None = None
    fullmatch: Pattern | None = None
    exists: bool | None = None
    # Derived once, so testing a value (per request, per event) does only the work its operators need.
    _value_ops: bool = field(init=False, repr=False, compare=False)
    _text_ops: bool = field(init=False, repr=False, compare=False)
    _texts: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text_ops = any(op is not None for op in (self.prefix, self.suffix, self.glob, self.regex, self.fullmatch))
        value_ops = text_ops or not isinstance(self.equals, Missing) or self.one_of is not None
        # A string equals a string expected in one_of exactly when it is one of them (see same_value).
        texts = frozenset(e for e in self.one_of if isinstance(e, str)) if self.one_of is not None else None
        object.__setattr__(self, "_text_ops", text_ops)
        object.__setattr__(self, "_value_ops", value_ops)
        object.__setattr__(self, "_texts", texts)

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
        return self._value_ops

    def _one(self, value: Any) -> bool:
        equals = self.equals
        if isinstance(value, str) and isinstance(equals, str):
            if value != equals:
                return False
        elif not isinstance(equals, Missing) and not same_value(value, equals):
            return False
        if self.one_of is not None:
            if isinstance(value, str) and self._texts is not None and value in self._texts:
                pass
            elif not any(same_value(value, e) for e in self.one_of):
                return False
        if not self._text_ops:
            return True
        text = value if isinstance(value, str) else _text(value)
        if text is None:
            return False
        if self.prefix is not None and not text.startswith(self.prefix):
            return False
        if self.suffix is not None and not text.endswith(self.suffix):
            return False
        if self.glob is not None and not self.glob.fullmatch(text):
            return False
        if self.fullmatch is not None and not self.fullmatch.fullmatch(text):
            return False
        return self.regex is None or self.regex.search(text)

    def test(self, values: Sequence[Any]) -> bool:
        """Whether the values a source found (none, one or several) satisfy the condition."""
        if self.exists is not None and bool(values) != self.exists:
            return False
        if not self._value_ops:
            return self.exists is not None or bool(values)
        if len(values) == 1:  # an attribute or a variable: the common case, without a generator
            return self._one(values[0])
        return any(self._one(v) for v in values)

    def describe(self) -> str:
        parts = []
        if not isinstance(self.equals, Missing):
            parts.append(f"== {self.equals!r}")
        if self.one_of is not None:
            parts.append(f"in {list(self.one_of)!r}")
        for name in ("prefix", "suffix", "glob", "regex", "fullmatch"):
            if (v := getattr(self, name)) is not None:
                parts.append(f"{name} {str(v)!r}")
        if self.exists is not None:
            parts.append("exists" if self.exists else "absent")
        return " and ".join(parts) or "exists"


OPERATOR_NAMES: Final = tuple(f.name for f in fields(Condition) if f.init)
"""The operators of a :class:`Condition`, as its constructor names them."""


class Predicate(ABC):
    """A test of one set of :class:`Facts`; combine with ``&``, ``|`` and ``~``."""

    __slots__ = ()

    @abstractmethod
    def test(self, facts: Facts) -> bool:
        """True when ``facts`` satisfy the predicate."""

    def __call__(self, subject: object) -> bool:
        """Test anything :func:`facts_of` knows (Facts, or a service's own type such as an envelope)."""
        return self.test(facts_of(subject))

    def __and__(self, other: Predicate) -> Predicate:
        return AllOf((self, other))

    def __or__(self, other: Predicate) -> Predicate:
        return AnyOf((self, other))

    def __invert__(self) -> Predicate:
        return Not(self)

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for logs and ``repr``."""

    @property
    def cost(self) -> int:
        """Relative cost of testing: attributes before variables before the body."""
        return 0

    def __repr__(self) -> str:
        return f"<match {self.describe()}>"


class Everything(Predicate):
    """Holds for everything (an empty match)."""

    __slots__ = ()

    def test(self, facts: Facts) -> bool:
        return True

    def describe(self) -> str:
        return "everything"


class _Group(Predicate):
    """Parts joined by ``and`` or ``or``, flattened (``a & b & c`` is one node) and cheapest first."""

    __slots__ = ("parts",)
    _word: str = ""
    _empty: str = ""

    def __init__(self, parts: Iterable[Predicate]) -> None:
        flat: list[Predicate] = []
        for p in parts:
            flat.extend(p.parts if type(p) is type(self) else (p,))
        self.parts: tuple[Predicate, ...] = tuple(sorted(flat, key=lambda p: p.cost))

    @property
    def cost(self) -> int:
        return max((p.cost for p in self.parts), default=0)

    def describe(self) -> str:
        return "(" + f" {self._word} ".join(p.describe() for p in self.parts) + ")" if self.parts else self._empty


class AllOf(_Group):
    """Every part holds."""

    __slots__ = ()
    _word, _empty = "and", "everything"

    def test(self, facts: Facts) -> bool:
        return all(p.test(facts) for p in self.parts)


class AnyOf(_Group):
    """At least one part holds."""

    __slots__ = ()
    _word, _empty = "or", "nothing"

    def test(self, facts: Facts) -> bool:
        return any(p.test(facts) for p in self.parts)


class Not(Predicate):
    """The part does not hold."""

    __slots__ = ("part",)

    def __init__(self, part: Predicate) -> None:
        self.part = part

    def test(self, facts: Facts) -> bool:
        return not self.part.test(facts)

    @property
    def cost(self) -> int:
        return self.part.cost

    def describe(self) -> str:
        return f"not {self.part.describe()}"


class _Source(Predicate):
    """A condition on the values one source finds in the facts (none, one, or several)."""

    __slots__ = ("cond",)
    _cost: int = 0

    def __init__(self, cond: Condition) -> None:
        self.cond = cond

    @abstractmethod
    def values(self, facts: Facts) -> Sequence[Any]:
        """What the source finds in ``facts``."""

    def test(self, facts: Facts) -> bool:
        return self.cond.test(self.values(facts))

    @property
    def cost(self) -> int:
        return self._cost

    def describe(self) -> str:
        return f"{self} {self.cond.describe()}"


class Attribute(_Source):
    """A context attribute (``type``, ``source``, ``subject``, ``tenant``, any extension)."""

    __slots__ = ("name",)

    def __init__(self, name: str, cond: Condition) -> None:
        super().__init__(cond)
        self.name = name

    def values(self, facts: Facts) -> Sequence[Any]:
        value = facts.attribute(self.name)
        return () if value is None else (value,)

    def __str__(self) -> str:
        return self.name


class Variable(_Source):
    """A variable the gateway extracted (the ``vars`` extension once the event exists)."""

    __slots__ = ("name",)
    _cost = 1

    def __init__(self, name: str, cond: Condition) -> None:
        super().__init__(cond)
        self.name = name

    def values(self, facts: Facts) -> Sequence[Any]:
        variables = facts.variables
        return (variables[self.name],) if self.name in variables else ()

    def __str__(self) -> str:
        return f"vars.{self.name}"


class Body(_Source):
    """The nodes a JSONPath selects in the JSON body (none when the body is not JSON).

    A document the path cannot search (nested deeper than the JSONPath depth bound) selects nothing,
    like a body that is not JSON: a predicate never raises.
    """

    __slots__ = ("path",)
    _cost = 2

    def __init__(self, path: str | JsonPath, cond: Condition) -> None:
        super().__init__(cond)
        self.path = compile_jsonpath(path) if isinstance(path, str) else path

    def values(self, facts: Facts) -> Sequence[Any]:
        try:
            return self.path.find(facts.document)
        except JsonPathError:
            return ()

    def __str__(self) -> str:
        return f"data {self.path}"
