from __future__ import annotations

import pytest

from hookgate.consumer.engine.offsets import PartitionOffsets


def test_commits_only_up_to_the_first_unfinished_record() -> None:
    po = PartitionOffsets()
    for off in (10, 11, 12, 13):
        po.add(off)
    assert po.committable() is None
    po.finish(11)
    po.finish(13)
    assert po.committable() is None  # 10 still pending: nothing may be committed
    assert po.in_flight == 2
    po.finish(10)
    assert po.committable() == 12  # 10 and 11 done; 12 pending
    assert po.lowest_pending == 12
    po.finish(12)
    assert po.committable() == 14
    assert po.in_flight == 0
    assert po.lowest_pending is None


def test_gaps_in_offsets_are_allowed_but_not_going_backwards() -> None:
    po = PartitionOffsets()
    po.add(5)
    po.add(9)  # compaction or transaction markers leave gaps
    po.finish(5)
    assert po.committable() == 6
    po.finish(9)
    assert po.committable() == 10
    with pytest.raises(ValueError, match="out of order"):
        po.add(9)
