"""The event as matchers, templates and Python handlers see it: an :class:`Envelope` plus lazy views.

The JSON body and the extracted variables are parsed at most once per event, and only when something
asks for them: most workflows match on attributes alone and never pay for a parse. An :class:`Event` is
the :class:`~hookgate.core.predicates.Facts` workflow matches test, and predicates accept an
:class:`Envelope` too (through :func:`event_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from hookgate.core.envelope import SPECVERSION, Envelope, parse_rfc3339
from hookgate.core.jsonpath import NOT_JSON
from hookgate.core.predicates import facts_of

__all__ = ["NOT_JSON", "Delivery", "Event", "delivering", "event_of"]

_UNSET: Final = object()


@dataclass(frozen=True, slots=True)
class Delivery:
    """How this run of a workflow came about: which attempt, whether a re-drive, where the event is stored.

    ``attempt`` is 1-based and counts the attempts of this run that finished before this one, across
    restarts: each failed attempt is written to the group's dedupe changelog (a ``retrying`` entry with its
    count) before the retry waits, so a process that takes the event over continues the count. An attempt
    cut off by a crash before it finished has no outcome and is not counted. A re-drive is a new run: its
    count starts at 1 again. ``topic``/``partition``/``offset`` are the event's own record in its source
    topic, also for a re-drive (read from its ``hookgate_source_*`` headers).
    """

    attempt: int = 1
    redrive_id: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


_DELIVERY: ContextVar[Delivery | None] = ContextVar("hookgate_delivery", default=None)


class delivering:
    """Within the block, an :class:`Event` built without ``delivery=`` describes ``delivery`` (the engine
    wraps each attempt in it, so Python handlers see their attempt without the Workflow contract changing).

    A class rather than a ``@contextmanager`` generator: it runs once per attempt, and the generator's frame
    and wrapper cost several times as much (3.8 % of the consumer's samples in a profile of 80 000 events).
    """

    __slots__ = ("_delivery", "_token")

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    def __enter__(self) -> None:
        self._token = _DELIVERY.set(self._delivery)

    def __exit__(self, *exc: object) -> None:
        _DELIVERY.reset(self._token)


class Event:
    """One CloudEvent delivered to a workflow.

    Attributes are strings (``id``, ``type``, ``source``, ``subject``, ``tenant``, ``trigger``, any
    extension through :meth:`attribute`); ``data`` is the body byte-exact; :meth:`json` parses it.
    :attr:`attempt`, :attr:`is_redrive`, :attr:`accepted_at`, :attr:`topic`, :attr:`partition` and
    :attr:`offset` describe this delivery (``delivery``; by default the attempt the engine is running, or
    a first attempt outside the engine, e.g. in a test).
    """

    __slots__ = ("_delivery", "_json", "_vars", "envelope")

    def __init__(self, envelope: Envelope, *, delivery: Delivery | None = None) -> None:
        self.envelope = envelope
        self._json: Any = _UNSET
        self._vars: dict[str, Any] | None = None
        self._delivery = delivery if delivery is not None else (_DELIVERY.get() or _FIRST)

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
    def delivery(self) -> Delivery:
        """This delivery: attempt, re-drive id and source position together."""
        return self._delivery

    @property
    def attempt(self) -> int:
        """Which attempt of this run this is, from 1; correct across restarts (see :class:`Delivery`)."""
        return self._delivery.attempt

    @property
    def is_redrive(self) -> bool:
        """True when this run re-drives a dead letter (``hookgate replay --dead-letter``)."""
        return self._delivery.redrive_id is not None

    @property
    def redrive_id(self) -> str | None:
        """The re-drive's id (one per replay command); None for an ordinary delivery."""
        return self._delivery.redrive_id

    @property
    def accepted_at(self) -> datetime | None:
        """When the gateway accepted the webhook: the CloudEvents ``time`` it sets; None when absent or invalid."""
        raw = self.envelope.time
        if not raw:
            return None
        try:
            return parse_rfc3339(raw)
        except ValueError:
            return None

    @property
    def topic(self) -> str | None:
        """The source topic the event was read from (for a re-drive: where the original record is)."""
        return self._delivery.topic

    @property
    def partition(self) -> int | None:
        """The partition of the event's record in :attr:`topic`."""
        return self._delivery.partition

    @property
    def offset(self) -> int | None:
        """The offset of the event's record in :attr:`partition`."""
        return self._delivery.offset

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


_FIRST: Final = Delivery()

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
