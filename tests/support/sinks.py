"""An in-memory event sink, for unit tests of the gateway's request chain (never for integration tests)."""

from __future__ import annotations

from dataclasses import dataclass

from hookgate.core.envelope import Envelope
from hookgate.gateway.publish.sink import Ack, PublishFailure, PublishResult


@dataclass(frozen=True, slots=True)
class Stored:
    """One event the sink acknowledged, with the topic and key it was published under."""

    topic: str
    key: bytes
    envelope: Envelope


class MemorySink:
    """Acknowledges every event and keeps it in :attr:`events`, unless told to fail.

    ``failure``: answer every publish with this :class:`PublishFailure` and store nothing (a broker
    outage, a timeout). ``ready``: what ``/readyz`` reports. ``keep=False`` acknowledges without keeping
    (for measurements that publish many events).
    """

    def __init__(self, *, failure: PublishFailure | None = None, ready: bool = True, keep: bool = True) -> None:
        self.events: list[Stored] = []
        self.failure = failure
        self.ready = ready
        self.started = False
        self.stopped = False
        self._keep = keep

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def readiness(self) -> tuple[bool, dict[str, str]]:
        return self.ready, {"sink": "ok" if self.ready else "unavailable"}

    async def publish(self, topic: str, key: bytes, envelope: Envelope) -> PublishResult:
        if self.failure is not None:
            return self.failure
        if self._keep:
            self.events.append(Stored(topic, key, envelope))
        return Ack(topic, 0, len(self.events) - 1)
