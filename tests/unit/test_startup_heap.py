"""``freeze_startup_heap``: what a service holds once it is up is exempt from the cyclic collector."""

from __future__ import annotations

import gc
import weakref

from hookgate.core.runtime import freeze_startup_heap


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    gc.unfreeze()
    kept = [_Cycle() for _ in range(100)]
    garbage = weakref.ref(_Cycle())  # an unreachable cycle: only the collector frees it
    assert garbage() is not None
    try:
        freeze_startup_heap()
        assert garbage() is None  # collected first, not frozen
        assert gc.get_freeze_count() >= len(kept)
        collectable = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in collectable for o in kept)  # the live ones are no longer walked
        later = _Cycle()
        assert any(o is later for o in gc.get_objects())  # objects made afterwards are collected as always
    finally:
        gc.unfreeze()
