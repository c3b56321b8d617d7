"""Matching events to workflows: pure functions over the envelope."""

from __future__ import annotations

from collections.abc import Sequence

from hookgate.consumer.config import Match, Workflow
from hookgate.core.envelope import Envelope


def matches(match: Match, event: Envelope) -> bool:
    if match.tenant is not None and match.tenant != event.tenant:
        return False
    if match.type is not None:
        if match.type.endswith("*"):
            return event.type.startswith(match.type[:-1])
        return event.type == match.type
    return True


def select(workflows: Sequence[Workflow], event: Envelope) -> list[Workflow]:
    """The workflows subscribed to ``event``, in configuration order."""
    return [w for w in workflows if matches(w.match, event)]
