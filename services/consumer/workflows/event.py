"""The event as matchers, templates and Python handlers see it: an :class:`Envelope` plus lazy views.

The JSON body and the extracted variables are parsed at most once per event, and only when something
asks for them: most workflows match on attributes alone and never pay for a parse. An :class:`Event` is
the :class:`~hookgate.core.predicates.Facts` workflow matches test, and predicates accept an
:class:`Envelope` too (through :func:`event_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from hookgate.core.envelope import SPECVERSION, Envelope
from hookgate.core.jsonpath import NOT_JSON
from hookgate.core.predicates import facts_of

__all__ = ["NOT_JSON", "Event", "event_of"]

_UNSET: Final = object()


class Event:
    """One CloudEvent delivered to a workflow.

    Attributes are strings (``id``, ``type``, ``source``, ``subject``, ``tenant``, ``trigger``, any
    extension through :meth:`attribute`); ``data`` is the body byte-exact; :meth:`json` parses it.
    """

    __slots__ = ("_json", "_vars", "envelope")

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self._json: Any = _UNSET
        self._vars: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def source(self) -> str:
        return self.envelope.source

    @property
    def subject(self) -> str | None:
        return self.envelope.subject

    @property
    def time(self) -> str | None:
        return self.envelope.time

    @property
    def tenant(self) -> str | None:
        return self.envelope.tenant

    @property
    def trigger(self) -> str | None:
        return self.envelope.trigger

    @property
    def datacontenttype(self) -> str | None:
        return self.envelope.datacontenttype

    @property
    def data(self) -> bytes:
        """The body exactly as the sender posted it."""
        return self.envelope.data

    @property
    def variables(self) -> dict[str, Any]:
        """Variables the gateway extracted (the ``vars`` extension); empty when none."""
        if self._vars is None:
            self._vars = self.envelope.variables
        return self._vars

    def attribute(self, name: str) -> str | None:
        """A context attribute by CloudEvents name (core or extension); None when absent."""
        getter = _FAST.get(name)
        if getter is not None:
            return getter(self.envelope)
        if name == "specversion":
            return SPECVERSION
        return self.envelope.extensions.get(name)

    @property
    def json_data(self) -> Any:
        """The body parsed as JSON, or :data:`NOT_JSON`; parsed on first use, then cached."""
        if self._json is _UNSET:
            try:
                self._json = orjson.loads(self.envelope.data) if self.envelope.data else NOT_JSON
            except orjson.JSONDecodeError:
                self._json = NOT_JSON
        return self._json

    @property
    def document(self) -> Any:
        """The JSON body for predicates and templates: :attr:`json_data`."""
        return self.json_data

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        value = self.json_data
        if value is NOT_JSON:
            raise ValueError("the event body is not JSON")
        return value

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, type={self.type!r}, tenant={self.tenant!r})"


_FAST: Final[dict[str, Callable[[Envelope], str | None]]] = {
    "id": lambda e: e.id,
    "type": lambda e: e.type,
    "source": lambda e: e.source,
    "subject": lambda e: e.subject,
    "time": lambda e: e.time,
    "datacontenttype": lambda e: e.datacontenttype,
    "tenant": lambda e: e.tenant,
    "trigger": lambda e: e.trigger,
}

_last: tuple[Envelope, Event] | None = None


def event_of(envelope: Envelope) -> Event:
    """The :class:`Event` for ``envelope``, shared by consecutive callers.

    The runner asks every workflow in turn whether it wants the same envelope; remembering the last
    one lets all of them share one parse of the body without changing the ``Workflow.matches`` contract.
    """
    global _last
    last = _last
    if last is not None and last[0] is envelope:
        return last[1]
    event = Event(envelope)
    _last = (envelope, event)
    return event


def _itself(event: Event) -> Event:
    return event


# Registered rather than found by the Facts protocol check, which would read (and parse) the body.
facts_of.register(Envelope, event_of)
facts_of.register(Event, _itself)
