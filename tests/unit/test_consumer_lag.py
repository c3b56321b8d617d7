"""The consumer's lag gauge reads only partitions the Kafka consumer holds at that moment.

A pattern subscription that starts matching a new topic is replaced before the group reassigns, and in that
window aiokafka's ``highwater()`` raises ``AssertionError("Partition is not assigned")`` for the partitions
the runner still tracks: the periodic lag update crashed the consumer there (seen in an end-to-end run).
"""

from __future__ import annotations

from aiokafka import TopicPartition

from hookgate.consumer.engine.runner import Runner, _Partition
from hookgate.consumer.metrics import ConsumerMetrics
from hookgate.consumer.workflows.workflow import WorkflowSet
from tests.support.events import consumer_config

HELD, GONE = TopicPartition("p.acme", 0), TopicPartition("p._redrive.g", 0)


class Consumer:
    """What ``_observe`` asks of an aiokafka consumer, answering as aiokafka does for unassigned partitions."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self._assigned = assigned

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self._assigned, "Partition is not assigned"
        return 10


def test_lag_skips_partitions_the_consumer_no_longer_holds() -> None:
    metrics = ConsumerMetrics()
    runner = Runner(consumer_config("127.0.0.1:9", "p", "g", []), WorkflowSet([]), metrics, deliverer=None, dedupe=None)  # type: ignore[arg-type]
    for tp in (HELD, GONE):
        part = _Partition(tp, metrics.consumed.labels(tp.topic))
        part.offsets.add(3)
        runner._parts[tp] = part
    runner._observe(Consumer({HELD}))  # type: ignore[arg-type]
    registry = metrics.registry
    assert registry.get_sample_value("hookgate_consumer_lag_records", {"topic": "p.acme", "partition": "0"}) == 7
    assert (
        registry.get_sample_value("hookgate_consumer_lag_records", {"topic": "p._redrive.g", "partition": "0"}) is None
    )
