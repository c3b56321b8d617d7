"""Where a consumer group starts reading a partition it has no committed offset for: ``consumer.group.start``.

``earliest`` replays every event still retained, ``latest`` skips everything written before the group
joined, a time (RFC 3339) starts at the first record at or after it. Each is right for some group and a
silent surprise for another (a new "deploy" workflow re-running a week of pushes; a new install losing the
events the gateway accepted while its consumer was still starting), so there is no default: a group that
has never committed an offset and has no ``start`` refuses to start (:class:`GroupStartRefused`) and says
which choices there are. Once a group has committed offsets, ``start`` no longer matters for the partitions
it has read; a partition that appears later (a new tenant's topic, added partitions) starts at ``start``,
or at its earliest offset when ``start`` is unset (all of it was written after the group existed).

Pure: parsing and the choice of position; the runner asks the broker for the offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

START_CHOICES = "earliest, latest, or an RFC 3339 time such as 2026-01-31T09:00:00Z"
START_KEY = "consumer.group.start"


@dataclass(frozen=True, slots=True)
class GroupStart:
    """A parsed ``consumer.group.start``: ``kind`` and, for a time, the instant (timezone-aware)."""

    kind: Literal["earliest", "latest", "time"]
    at: datetime | None = None

    @property
    def text(self) -> str:
        """As it is logged (``group_start``): the keyword, or the time in RFC 3339."""
        return self.at.isoformat() if self.at is not None else self.kind

    @property
    def at_ms(self) -> int:
        """The time as Kafka timestamps count it (ms since the epoch); only for ``kind == "time"``."""
        if self.at is None:
            raise ValueError(f"{self.kind} has no time")
        return int(self.at.timestamp() * 1000)


def parse_start(value: str) -> GroupStart:
    """``earliest``, ``latest`` or an RFC 3339 date-time with an offset; ValueError naming the choices."""
    text = value.strip()
    if text in ("earliest", "latest"):
        return GroupStart(text)  # type: ignore[arg-type]  # narrowed by the test above
    try:
        at = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"expected {START_CHOICES}; got {value!r}") from None
    if "T" not in text.upper() or at.tzinfo is None:
        raise ValueError(
            f"a time needs a date, a time and a UTC offset (RFC 3339), e.g. 2026-01-31T09:00:00Z; got {value!r}"
        )
    return GroupStart("time", at)


class StartRefused(Exception):  # a refusal, not a failure: the configuration must change
    """The consumer cannot start as configured; the process exits with status 2 and this message."""


class TopicLayoutError(StartRefused):
    """An internal topic exists with a layout the consumer cannot work with (e.g. its partition count)."""


class GroupStartRefused(StartRefused):
    """A group with no committed offsets and no ``consumer.group.start``: the process stops (exit 2)."""

    def __init__(self, group: str, partitions: list[str]) -> None:
        self.group = group
        self.partitions = partitions
        super().__init__(
            f"{START_KEY}: consumer group {group!r} has no committed offsets, so it has never run; set {START_KEY} "
            f"to {START_CHOICES} to say where it starts (earliest replays every retained event, latest skips "
            "the events written before it joins; see docs/consumers.md, 'Delivery guarantees and recovery')"
        )


def start_offset(start: GroupStart | None, *, beginning: int, end: int, at_time: int | None) -> int:
    """The offset a partition without a committed offset starts at.

    ``beginning``/``end`` are the partition's first and next offsets; ``at_time`` is the broker's answer
    to ``offsets_for_times`` for ``start.at`` (None: no record at or after it, so the end). ``start`` None
    (an established group's new partition) means the beginning.
    """
    if start is None or start.kind == "earliest":
        return beginning
    if start.kind == "latest":
        return end
    return end if at_time is None else max(beginning, at_time)
