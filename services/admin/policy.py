"""What a tenant token may not set on its own tenant's triggers.

A tenant token manages its tenant's triggers, but a few keys reach beyond the tenant: ``topic`` chooses
where the events go (another tenant's topic would put events in that tenant's stream), and the body
limits bound how much memory one request may take on every replica. Those stay with the operator:

- ``topic``: only an ``admin`` token sets it (the tenant's topic comes from ``kafka.topics.template``);
- ``max_body_bytes`` and ``decompress.max_bytes``: at most the gateway's ``gateway.max_body_bytes``;
- ``decompress.max_ratio``: at most its default, 100.

A value an admin already gave the trigger may be sent back unchanged (a tenant's ``PUT`` of what ``GET``
showed it). Pure logic: the API turns the refusals into a 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MAX_RATIO = 100.0


def tenant_refusals(
    spec: Mapping[str, Any], current: Mapping[str, Any] | None, *, max_body_bytes: int | None
) -> list[tuple[str, str]]:
    """Why a tenant token may not write ``spec``, as (key path, reason) pairs (``current``: the trigger's spec
    now, for an update); empty when it may. ``max_body_bytes``: the gateway's limit (None: not known, body
    limits unchecked)."""
    refusals: list[tuple[str, str]] = []
    old = current or {}

    def changed(path: tuple[str, ...]) -> tuple[bool, Any]:
        new, before = _at(spec, path), _at(old, path)
        return new is not None and new != before, new

    moved, _ = changed(("topic",))
    if moved:
        refusals.append(("topic", "only an admin token chooses a trigger's topic"))
    for path in (("max_body_bytes",), ("decompress", "max_bytes")):
        raised, value = changed(path)
        if raised and max_body_bytes is not None and _number(value) > max_body_bytes:
            refusals.append((".".join(path), f"at most {max_body_bytes} (gateway.max_body_bytes) for a tenant token"))
    raised, ratio = changed(("decompress", "max_ratio"))
    if raised and _number(ratio) > DEFAULT_MAX_RATIO:
        refusals.append(("decompress.max_ratio", f"at most {DEFAULT_MAX_RATIO:g} for a tenant token"))
    return refusals


def _at(spec: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = spec
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _number(value: Any) -> float:
    """The value as a number; anything else is left for the trigger's own validation (422), so 0 here."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
