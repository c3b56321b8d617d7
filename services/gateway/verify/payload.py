"""Reading a few fields (event id, event type) from a verified JSON body without trusting its shape.

Only called after the signature check, and tolerant: a body that is not a JSON object, or lacks the
field, yields ``None`` and the gateway falls back to the trigger's configured type and a fresh id.
"""

from __future__ import annotations

from typing import Any

import orjson


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` when it is not one."""
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def field(obj: Any, *path: str) -> str | None:
    """``obj[path[0]][path[1]]...`` as a non-empty string (numbers are rendered), else ``None``."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    if isinstance(obj, bool) or obj is None:
        return None
    if isinstance(obj, str | int):
        text = str(obj)
        return text or None
    return None
