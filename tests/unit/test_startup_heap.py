"""``freeze_startup_heap``: what a service holds once it is up is exempt from the cyclic collector."""

from __future__ import annotations

import gc
import weakref

from hookgate.core.runtime import GC_THRESHOLD, freeze_startup_heap


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    gc.unfreeze()
    kept = [_Cycle() for _ in range(100)]
    garbage = weakref.ref(_Cycle())  # an unreachable cycle: only the collector frees it
    assert garbage() is not None
    before = gc.get_threshold()
    try:
        freeze_startup_heap()
        assert garbage() is None  # collected first, not frozen
        assert gc.get_freeze_count() >= len(kept)
        collectable = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in collectable for o in kept)  # the live ones are no longer walked
        later = _Cycle()
        assert any(o is later for o in gc.get_objects())  # objects made afterwards are collected as always
        assert gc.get_threshold() == GC_THRESHOLD == (10_000, 10, 10)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_cyclic_garbage_made_later_is_still_collected_on_its_own() -> None:
    before = gc.get_threshold()
    try:
        freeze_startup_heap()
        garbage = weakref.ref(_Cycle())
        kept = [[] for _ in range(3 * GC_THRESHOLD[0])]  # tracked objects that live on: a collection runs
        assert len(kept) == 3 * GC_THRESHOLD[0]
        assert garbage() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
