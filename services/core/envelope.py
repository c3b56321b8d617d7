"""The CloudEvents 1.0 envelope and its Kafka binary-content-mode encoding.

A record's value is the webhook body byte-exact; every attribute travels as a ``ce_<name>`` header
(UTF-8) and ``datacontenttype`` as the ``content-type`` header, as the CloudEvents Kafka protocol
binding specifies. This module is hand-written rather than routed through the ``cloudevents`` SDK
because it sits on the gateway's hot path; the tests check its output with the SDK's own decoder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from hookgate.core.ids import random_bytes

SPECVERSION = "1.0"
CONTENT_TYPE_HEADER = "content-type"
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_REQUIRED = ("id", "source", "type", "specversion")

# Extension attributes hookgate itself sets.
EXT_TENANT = "tenant"
EXT_TRIGGER = "trigger"
EXT_VARS = "vars"  # JSON object of variables the gateway extracted


class EnvelopeError(ValueError):
    """A Kafka record is not a valid hookgate CloudEvent."""


def new_event_id() -> str:
    """A fresh unique event id, for senders that do not give a delivery id: a random (version 4) UUID.

    Formatted from 16 random bytes directly: ``str(uuid.uuid4())`` builds a ``UUID`` object (and its int)
    only to print it, 2.5 times the cost, and this runs once per request of such senders.
    """
    h = random_bytes(16).hex()
    # Version nibble 4, variant bits 10 (RFC 9562): the text uuid.uuid4() would give for these bits.
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event: CloudEvents context attributes plus the raw body."""

    id: str
    source: str
    type: str
    data: bytes
    time: str | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def tenant(self) -> str | None:
        return self.extensions.get(EXT_TENANT)

    @property
    def trigger(self) -> str | None:
        return self.extensions.get(EXT_TRIGGER)

    @property
    def variables(self) -> dict[str, Any]:
        """Variables the gateway extracted (empty when none)."""
        raw = self.extensions.get(EXT_VARS)
        if not raw:
            return {}
        try:
            val = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return val if isinstance(val, dict) else {}

    def attributes(self) -> dict[str, str]:
        """All context attributes (core and extensions) as strings, ``specversion`` included."""
        attrs: dict[str, str] = {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        for name in ("time", "subject", "datacontenttype"):
            value = getattr(self, name)
            if value is not None:
                attrs[name] = value
        attrs.update(self.extensions)
        return attrs

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka record headers in binary content mode."""
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
        ]
        if self.time is not None:
            headers.append(("ce_time", self.time.encode()))
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        if self.datacontenttype is not None:
            headers.append((CONTENT_TYPE_HEADER, self.datacontenttype.encode()))
        for name, value in self.extensions.items():
            headers.append((f"ce_{name}", value.encode()))
        return headers

    @classmethod
    def from_record(cls, headers: Iterable[tuple[str, bytes]], value: bytes | None) -> Envelope:
        """Decode a binary-mode record; raises :class:`EnvelopeError` when it is not a CloudEvent.

        Header names are case-insensitive (``CE_ID`` is ``id``); any header other than ``ce_*`` and
        ``content-type`` is ignored.
        """
        attrs: dict[str, str] = {}
        content_type: str | None = None
        names = _ATTRIBUTE_OF
        for name, raw in headers:
            attr = names.get(name, _UNKNOWN)
            if attr is _UNKNOWN:
                attr = _attribute_of(name)
            if attr is None:
                continue
            try:
                text = raw.decode() if raw is not None else ""
            except UnicodeDecodeError:
                raise EnvelopeError(f"header {name} is not UTF-8") from None
            if attr:
                attrs[attr] = text
            else:
                content_type = text
        if not attrs.keys() >= _REQUIRED_SET:
            missing = [a for a in _REQUIRED if a not in attrs]
            raise EnvelopeError(f"missing CloudEvents attribute(s): {', '.join(missing)}")
        if attrs["specversion"] != SPECVERSION:
            raise EnvelopeError(f"unsupported specversion {attrs['specversion']!r}")
        pop = attrs.pop
        event_id, source, type_ = pop("id"), pop("source"), pop("type")
        time, subject, declared = pop("time", None), pop("subject", None), pop("datacontenttype", None)
        pop("specversion")
        pop("dataschema", None)
        # What is left are the extensions. Positional: this runs once per record a consumer reads.
        data = value if value is not None else b""
        return cls(event_id, source, type_, data, time, subject, content_type or declared, attrs)


_UNKNOWN: Any = object()
_REQUIRED_SET = frozenset(_REQUIRED)
_ATTRIBUTE_OF: dict[str, str | None] = {}
"""Header name -> the attribute it carries ("" for ``content-type``, None for none), as names are met."""
_ATTRIBUTE_OF_MAX = 1024


def _attribute_of(name: str) -> str | None:
    lname = name.lower()
    attr = "" if lname == CONTENT_TYPE_HEADER else (lname[3:] or None) if lname.startswith("ce_") else None
    if len(_ATTRIBUTE_OF) < _ATTRIBUTE_OF_MAX:  # names come from the records: stop remembering new ones
        _ATTRIBUTE_OF[name] = attr
    return attr


def valid_extension_name(name: str) -> bool:
    """CloudEvents extension names are lower-case ASCII letters and digits, at most 20 characters."""
    return bool(_EXTENSION_NAME.match(name))
