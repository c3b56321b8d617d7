"""What a handler's Event says about its delivery: attempt, re-drive, acceptance time, source position."""

from __future__ import annotations

from datetime import UTC, datetime

from hookgate.consumer.workflows.event import Delivery, Event, delivering
from hookgate.core.envelope import Envelope


def _envelope(time: str | None = "2026-01-31T09:00:00.123Z") -> Envelope:
    return Envelope(id="e1", source="/t", type="t", data=b"{}", time=time)


def test_outside_the_engine_an_event_is_a_first_attempt_of_an_unknown_position() -> None:
    event = Event(_envelope())  # the constructor as it always was
    assert (event.attempt, event.is_redrive, event.redrive_id) == (1, False, None)
    assert (event.topic, event.partition, event.offset) == (None, None, None)
    assert event.accepted_at == datetime(2026, 1, 31, 9, 0, 0, 123000, tzinfo=UTC)
    assert Event(_envelope(None)).accepted_at is None
    assert Event(_envelope("not a time")).accepted_at is None


def test_the_delivery_is_given_or_taken_from_the_attempt_being_run() -> None:
    given = Event(_envelope(), delivery=Delivery(3, "r1", "hookgate.acme", 2, 41))
    assert (given.attempt, given.is_redrive, given.redrive_id) == (3, True, "r1")
    assert (given.topic, given.partition, given.offset) == ("hookgate.acme", 2, 41)
    with delivering(Delivery(2, None, "hookgate.acme", 0, 7)):
        inside = Event(_envelope())
    assert (inside.attempt, inside.offset) == (2, 7)
    assert Event(_envelope()).attempt == 1  # the context ended with the block
