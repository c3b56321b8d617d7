"""The event sink: where the webhook handler hands an accepted event, and what it gets back.

The handler knows only this protocol. The Kafka :class:`~hookgate.gateway.publish.publisher.Publisher`
is the production sink; unit tests of the request chain use an in-memory one (``tests/support/sinks.py``).
A publish never raises for a broker problem: it resolves to an :class:`Ack` (the event is stored) or a
:class:`PublishFailure` (it is not, or not known to be; the handler answers 503), so the chain treats the
outcome as a value like every other step's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hookgate.core.envelope import Envelope


@dataclass(frozen=True, slots=True)
class Ack:
    """The broker stored the event (acks=all) at this position."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class PublishFailure:
    """The event was not acknowledged; ``reason`` is a stable code for metrics and logs.

    ``may_be_stored``: the event had reached the producer, which cannot take it back, so the broker may
    still write it (a 503 then does not mean "not stored"; a retry with the same id is a duplicate the
    consumers' dedupe absorbs). False: it was never handed over, and will never be written.
    """

    reason: str
    detail: str = ""
    may_be_stored: bool = False


PublishResult = Ack | PublishFailure


class EventSink(Protocol):
    """Stores accepted events; the gateway is ready to accept only while the sink is."""

    async def start(self) -> None:
        """Begin connecting; returns at once (the gateway serves 503s until the sink is ready)."""

    async def stop(self) -> None:
        """Finish what was handed over, then release the connection. Called after the HTTP server stopped."""

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Whether events can be stored now, and the named checks behind the answer (for ``/readyz``)."""
        ...

    async def publish(self, topic: str, key: bytes, envelope: Envelope) -> PublishResult:
        """Store one event under ``key`` in ``topic``, within the sink's own deadline."""
        ...
