"""Subscription predicates: hookgate's one predicate engine, as workflows use it.

The engine (conditions, value sources, ``&``/``|``/``~``) is :mod:`hookgate.core.predicates`, shared with
the gateway's ingress filter; workflows build predicates from YAML (:mod:`.match_config`) or Python
(:mod:`.match`). Here the engine meets the consumer's event: a predicate tests an
:class:`~hookgate.consumer.workflows.event.Event`, and can be called with an
:class:`~hookgate.core.envelope.Envelope` directly (``match.type("x")(envelope)``), which it sees
through the shared per-envelope event of :func:`event_of` (the body is parsed at most once).
"""

from __future__ import annotations

from hookgate.consumer.workflows.event import event_of
from hookgate.core.predicates import Everything, Predicate

__all__ = ["Everything", "Predicate", "event_of"]
