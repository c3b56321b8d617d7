from __future__ import annotations

import asyncio

from hookgate.consumer.engine.ordering import KeySequencer


async def test_runs_of_one_key_start_in_order_other_keys_do_not_wait() -> None:
    seq = KeySequencer()
    first_before, first = seq.enter("k")
    second_before, second = seq.enter("k")
    other_before, other = seq.enter("other")
    assert first_before is None
    assert second_before is first
    assert other_before is None
    seq.release("k", first)
    assert first.done()
    assert len(seq) == 2  # "k" still has a later run
    seq.release("k", second)
    seq.release("k", second)  # idempotent
    seq.release("other", other)
    assert len(seq) == 0
    await asyncio.sleep(0)
