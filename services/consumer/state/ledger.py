"""Dead letters waiting per workflow: ``hookgate_consumer_dead_letters_waiting{workflow}``.

Computed by every member from the two topics that hold the truth, so it needs no state of its own:
:func:`follow_ledger` reads the group's dead-letter topic and its dead-letter state topic from the
beginning (group-less, every partition) and then follows both. :class:`DeadLetterLedger` keeps the latest
letter and the latest resolution per (workflow, event id); a pair is waiting while its latest letter is
not resolved (``deadletter.is_resolved``). Several letters of one pair (a re-drive that failed again)
count once: they are one event to re-drive. Since every member reads the same topics, every member
reports the same group-wide figure a moment apart: aggregate with ``max by (workflow)``, not ``sum``.

Memory: one small entry per (workflow, event) still in the dead-letter topic's retention.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from hookgate.consumer.state.deadletter import Letter, Resolution, is_resolved, letter_of
from hookgate.core.backoff import RECONNECT
from hookgate.core.kafka import make_consumer
from hookgate.core.logging import get_logger
from hookgate.core.settings import KafkaSettings

log = get_logger("hookgate.consumer")


class DeadLetterLedger:
    """Which (workflow, event) pairs have an unresolved dead letter; ``on_change(workflow, waiting)``. Pure."""

    def __init__(self, on_change: Callable[[str, int], None] = lambda _w, _n: None) -> None:
        self._letters: dict[str, Letter] = {}
        self._resolutions: dict[str, Resolution] = {}
        self._waiting_keys: set[str] = set()
        self._waiting: Counter[str] = Counter()
        self._on_change = on_change

    def letter(self, letter: Letter) -> None:
        """A dead letter was read (any order with resolutions: they compare by time, not by arrival)."""
        known = self._letters.get(letter.key)
        if known is None or letter.failed_at_ms >= known.failed_at_ms:
            self._letters[letter.key] = letter
        self._update(letter.key)

    def resolution(self, key: str, resolution: Resolution | None) -> None:
        """A resolution (None: a tombstone) was read for ``key`` (``{workflow}:{event id}``)."""
        if resolution is None:
            self._resolutions.pop(key, None)
        else:
            known = self._resolutions.get(key)
            if known is None or resolution.at_ms >= known.at_ms:
                self._resolutions[key] = resolution
        self._update(key)

    def waiting(self, workflow: str) -> int:
        """Distinct events of ``workflow`` with an unresolved dead letter."""
        return self._waiting[workflow]

    def _update(self, key: str) -> None:
        letter = self._letters.get(key)
        now = letter is not None and not is_resolved(letter, self._resolutions.get(key))
        was = key in self._waiting_keys
        if now == was or letter is None:
            return
        if now:
            self._waiting_keys.add(key)
            self._waiting[letter.workflow] += 1
        else:
            self._waiting_keys.discard(key)
            self._waiting[letter.workflow] -= 1
        self._on_change(letter.workflow, self._waiting[letter.workflow])


async def follow_ledger(
    settings: KafkaSettings, dead_letters: str, state: str, ledger: DeadLetterLedger, stop: asyncio.Event
) -> None:
    """Read both topics from the beginning into ``ledger`` and follow them until ``stop`` is set.

    A broker outage is retried with the reconnect backoff (the pipeline's own watch reports outages).
    """
    async for _ in RECONNECT.attempts(stop):
        if stop.is_set():
            return
        reader = make_consumer(settings, group_id=None, offset_reset="earliest")  # seeks to the beginning itself
        try:
            await reader.start()
            tps: list[TopicPartition] = []
            for topic in (dead_letters, state):
                parts = reader.partitions_for_topic(topic)
                if not parts:
                    await reader._client.force_metadata_update()  # created a moment ago; see cli.kafka_access
                    parts = reader.partitions_for_topic(topic) or set()
                tps.extend(TopicPartition(topic, p) for p in sorted(parts))
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            while not stop.is_set():
                batches = await reader.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for rec in records:
                        if tp.topic == dead_letters:
                            found = letter_of(rec.headers or ())
                            if found is not None:
                                ledger.letter(found)
                        elif rec.key is not None:
                            ledger.resolution(rec.key.decode(errors="replace"), Resolution.decode(rec.value))
            return
        except (KafkaError, OSError) as exc:
            log.debug("dead_letter_ledger_retry", reason=type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                await reader.stop()
