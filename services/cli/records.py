"""Kafka records as the CLI shows them, and the filters ``tail``/``inspect``/``replay`` apply. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookgate.core.records import attributes, other_headers, text_or_base64

__all__ = ["RecordFilter", "attributes", "other_headers", "parse_time", "record_json", "text_or_base64"]


def record_json(record: Any, *, body: bool) -> dict[str, Any]:
    """One record as a JSON-able dict: position, time, key, attributes, other headers, body if asked."""
    headers: Sequence[tuple[str, bytes]] = record.headers or ()
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds"),
        **text_or_base64(record.key, "key"),
        "attributes": attributes(headers),
    }
    extra = other_headers(headers)
    if extra:
        out["headers"] = extra
    if body:
        out.update(text_or_base64(record.value, "body"))
    return out


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Keep records whose CloudEvents ``type`` is one of ``types`` (``x.*`` = prefix) and ``id`` in ``ids``.

    An empty tuple means "any"; a record without CloudEvents headers matches only when both are empty.
    """

    types: tuple[str, ...] = ()
    ids: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.types and not self.ids

    def matches(self, headers: Iterable[tuple[str, bytes]]) -> bool:
        if self.empty:
            return True
        attrs = attributes(headers)
        if self.ids and attrs.get("id") not in self.ids:
            return False
        if self.types:
            kind = attrs.get("type")
            if kind is None:
                return False
            return any(kind.startswith(t[:-1]) if t.endswith("*") else kind == t for t in self.types)
        return True


def parse_time(value: str) -> int:
    """A point in time for ``--since``/``--until`` as Kafka timestamp milliseconds.

    Accepts ISO 8601 (``2026-01-31T12:00:00Z``; no zone = UTC) or an integer of unix milliseconds.
    """
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is neither ISO 8601 nor unix milliseconds") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1000)
