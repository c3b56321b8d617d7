"""Compression bombs for tests: a GiB of zeros in about a MB, built without compressing a GiB.

With a full flush after each MiB the compressor forgets its history, so every MiB of zeros compresses
to the same bytes: one MiB is compressed once and its block repeated. Only the checksum runs over the
whole input (CRC-32 / Adler-32 of zeros, a fraction of a second per GiB), so each bomb is a valid
stream that an unbounded decoder would inflate in full.
"""

from __future__ import annotations

import zlib
from functools import cache

_MIB = 1 << 20


@cache
def _zero_block() -> tuple[bytes, bytes]:
    """One MiB of zeros as raw deflate blocks ending in a full flush, and the final (empty) block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = c.compress(bytes(_MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block, c.flush()


@cache
def zeros_gzip(mib: int) -> bytes:
    """``mib`` MiB of zeros as one gzip member (RFC 1952)."""
    block, end = _zero_block()
    one = bytes(_MIB)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(one, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + ((mib * _MIB) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + block * mib + end + trailer


@cache
def zeros_deflate(mib: int) -> bytes:
    """``mib`` MiB of zeros in the zlib format (RFC 1950), HTTP's ``deflate``."""
    block, end = _zero_block()
    one = bytes(_MIB)
    adler = 1
    for _ in range(mib):
        adler = zlib.adler32(one, adler)
    return b"\x78\xda" + block * mib + end + adler.to_bytes(4, "big")
