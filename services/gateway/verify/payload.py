"""What a verified request names about itself (delivery id, event type, subject), read without trusting its shape.

Only read after the signature check, and tolerant: a body that is not a JSON object, or lacks the
field, yields ``None`` and the gateway falls back to the trigger's configured type and a fresh id.
The JSON body is the request's shared parse (:meth:`WebhookRequest.json_object`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hookgate.gateway.verify.base import Verdict, WebhookRequest, header_set, optional_header
from hookgate.gateway.verify.eventtype import ce_type


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


@dataclass(frozen=True, slots=True)
class Source:
    """One value a sender puts in its requests: a header, or a field of the JSON body."""

    header: str | None = None
    path: tuple[str, ...] = ()

    def read(self, request: WebhookRequest) -> str | None:
        if self.header is not None:
            return optional_header(request.headers, self.header)
        return field(request.json_object(), *self.path)


def header(name: str) -> Source:
    """The value of header ``name`` (absent or repeated: none)."""
    return Source(header=name)


def body(*path: str) -> Source:
    """The JSON body's field at ``path``."""
    return Source(path=path)


@dataclass(frozen=True, slots=True)
class EventFields:
    """Where a sender names its delivery id, event type and subject: the verdict of a sender's table row.

    ``delivery_id`` lists the places to look in order (GitLab: ``Idempotency-Key``, else
    ``X-Gitlab-Event-UUID``); ``event_type`` the parts of ``com.<sender>.<part>.<part>`` (Linear's
    ``type`` and ``action``).
    """

    sender: str
    delivery_id: tuple[Source, ...] = ()
    event_type: tuple[Source, ...] = ()
    subject: Source | None = None

    @property
    def headers(self) -> frozenset[str]:
        """The headers this row reads its delivery id, type and subject from (lower case)."""
        sources = (*self.delivery_id, *self.event_type, *((self.subject,) if self.subject else ()))
        return header_set(*(source.header for source in sources))

    def __call__(self, request: WebhookRequest, signed: object = None) -> Verdict:
        """The verdict for a verified request (``signed`` is unused: every value is read from the request)."""
        del signed
        found = (source.read(request) for source in self.delivery_id)
        return Verdict(
            ok=True,
            delivery_id=next((value for value in found if value), None),
            event_type=ce_type(self.sender, *(source.read(request) for source in self.event_type)),
            subject=self.subject.read(request) if self.subject is not None else None,
        )
