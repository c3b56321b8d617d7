"""Subscription predicates: hookgate's one predicate engine, as workflows use it.

The engine (conditions, value sources, ``&``/``|``/``~``) is :mod:`hookgate.core.predicates`, shared with
the gateway's ingress filter. Here it meets the consumer's event: a predicate tests an
:class:`~hookgate.consumer.workflows.event.Event`, and can be called with an
:class:`~hookgate.core.envelope.Envelope` directly (``match.type("x")(envelope)``), which it sees
through the shared per-envelope :class:`Event` (the body is parsed at most once).
"""

from __future__ import annotations

from hookgate.consumer.workflows.event import Event, event_of
from hookgate.core.predicates import (
    MISSING,
    AllOf,
    AnyOf,
    Attribute,
    Body,
    Condition,
    Everything,
    Not,
    Predicate,
    Scalar,
    Variable,
)

__all__ = [
    "MISSING",
    "AllOf",
    "AnyOf",
    "Attribute",
    "Body",
    "Condition",
    "Event",
    "Everything",
    "Not",
    "Predicate",
    "Scalar",
    "Variable",
    "event_of",
]
