"""Random bytes for identifiers: the operating system's, handed out once each, fresh in a forked child."""

from __future__ import annotations

import os

from hookgate.core import ids


def test_bytes_are_never_handed_out_twice_across_blocks() -> None:
    draws = [ids.random_bytes(16) for _ in range(3 * ids.BLOCK_BYTES // 16 + 5)]  # several blocks' worth
    assert all(len(d) == 16 for d in draws)
    assert len(set(draws)) == len(draws)
    assert len(ids.random_bytes(ids.BLOCK_BYTES * 2)) == ids.BLOCK_BYTES * 2  # larger than a block


def test_a_forked_child_does_not_repeat_what_its_parent_hands_out_next() -> None:
    ids.random_bytes(16)  # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next draw and leave without running the test session's exit
        os.write(write, ids.random_bytes(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != ids.random_bytes(16)
