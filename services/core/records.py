"""Kafka records as hookgate's readers see them (the CLI tools and the admin inspector). Pure.

An event record is in CloudEvents binary content mode (:mod:`hookgate.core.envelope`): the attributes
are its ``ce_*`` headers plus ``content-type``; any other header (``hookgate_*`` ones of dead letters and
re-drives) is not an attribute.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

CE_PREFIX = "ce_"


def text_or_base64(raw: bytes | None, name: str) -> dict[str, Any]:
    """``{name: text}`` when ``raw`` is UTF-8, ``{name_base64: ...}`` otherwise (nothing for None)."""
    if raw is None:
        return {}
    try:
        return {name: raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(raw).decode()}


def attributes(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """CloudEvents attributes from binary-mode headers: ``ce_*`` plus ``content-type`` as datacontenttype."""
    out: dict[str, str] = {}
    for name, raw in headers:
        lname = name.lower()
        if lname.startswith(CE_PREFIX):
            out[lname[len(CE_PREFIX) :]] = (raw or b"").decode("utf-8", errors="replace")
        elif lname == "content-type":
            out["datacontenttype"] = (raw or b"").decode("utf-8", errors="replace")
    return out


def other_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Headers that are not CloudEvents attributes (e.g. dead-letter ``hookgate_*`` headers)."""
    return {
        name: (raw or b"").decode("utf-8", errors="replace")
        for name, raw in headers
        if not name.lower().startswith(CE_PREFIX) and name.lower() != "content-type"
    }
