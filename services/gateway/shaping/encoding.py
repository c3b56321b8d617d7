"""``Content-Encoding``: decoding the body of a trigger that opted in, within bounds, never otherwise.

The server never decompresses anything by itself (aiohttp's automatic decompression is off, see
:func:`hookgate.gateway.intake.limits.server_handler_args`): a compressed body costs CPU only on a
trigger whose ``decompress`` setting names its coding, and there at most ``max_bytes`` of output, and at
most ``max_ratio`` output bytes per byte received, whichever is lower. A gzip bomb therefore stops after
that much work with 413; it is never inflated in full.

Decoding is pure (bytes in, bytes out) and streamed: the input is fed to :func:`zlib.decompressobj` in
slices and each call may return no more than the output still allowed, so the work is bounded by the
limit, not by what the stream would expand to. A stream that does not end (a truncated body) is invalid,
never accepted as its prefix.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hookgate.core.config import StrictModel
from hookgate.gateway.shaping.bodies import InvalidBody

Coding = Literal["gzip", "deflate"]
"""The content codings the gateway can decode (``br`` and ``zstd`` would need a library it does not have)."""

IDENTITY = "identity"
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3: a recipient should treat x-gzip as gzip
_SLICE = 16384  # input fed to the decompressor per call: what a stream can hold back is one slice
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


def _every_coding() -> list[Coding]:
    return ["gzip", "deflate"]


class DecompressConfig(StrictModel):
    """A trigger's ``decompress``: the codings it decodes and the bounds on what decoding may produce."""

    encodings: list[Coding] = Field(
        default_factory=_every_coding, min_length=1, description="Content-Encoding values decoded"
    )
    max_bytes: int | None = Field(
        default=None,
        ge=1,
        le=64 * 1_048_576,
        description="Decoded body size limit (413 above); default: the trigger's max_body_bytes",
    )
    max_ratio: float = Field(
        default=100, ge=1, le=100_000, description="Decoded bytes allowed per received byte (413 above)"
    )
    verify: Literal["decoded", "encoded"] = Field(
        default="decoded",
        description="Bytes the signature is checked over: decoded (what senders sign) or encoded (as received)",
    )


class DecodedTooLarge(Exception):
    """Decoding would produce more than allowed; ``reason`` says which bound (the metrics/audit reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def content_codings(values: Iterable[str]) -> list[str]:
    """The codings of ``Content-Encoding`` header values, in the order they were applied.

    Lower-cased, ``x-gzip`` read as ``gzip``; ``identity`` and empty members mean nothing and are dropped.
    """
    out = []
    for value in values:
        for member in value.split(","):
            coding = member.strip().lower()
            coding = _ALIASES.get(coding, coding)
            if coding and coding != IDENTITY:
                out.append(coding)
    return out


@dataclass(frozen=True, slots=True)
class BodyDecoder:
    """A trigger's decoder, compiled from its :class:`DecompressConfig` and body limit."""

    encodings: frozenset[str]
    max_bytes: int
    max_ratio: float
    verify_encoded: bool

    @classmethod
    def from_config(cls, cfg: DecompressConfig, max_body_bytes: int) -> BodyDecoder:
        return cls(
            encodings=frozenset(cfg.encodings),
            max_bytes=cfg.max_bytes if cfg.max_bytes is not None else max_body_bytes,
            max_ratio=cfg.max_ratio,
            verify_encoded=cfg.verify == "encoded",
        )

    def accepts(self, codings: Sequence[str]) -> bool:
        """Whether the body can be decoded: one coding, one this trigger decodes (stacked codings never are)."""
        return len(codings) == 1 and codings[0] in self.encodings

    def decode(self, coding: str, data: bytes) -> bytes:
        """``data`` decoded, or :class:`DecodedTooLarge` as soon as the output passes a bound, or
        :class:`~hookgate.gateway.shaping.bodies.InvalidBody` when the stream is corrupt, truncated or
        followed by other bytes. ``coding`` is one :meth:`accepts` took."""
        ratio_limit = int(len(data) * self.max_ratio)
        if ratio_limit < self.max_bytes:
            limit = ratio_limit
            too_large = DecodedTooLarge(
                "compression_ratio_exceeded", f"The body expands more than {self.max_ratio:g} times when decoded."
            )
        else:
            limit = self.max_bytes
            too_large = DecodedTooLarge("decoded_too_large", f"The decoded body exceeds {self.max_bytes} bytes.")
        if coding == "gzip":
            return _inflate(data, _GZIP_WBITS, limit, too_large, members=True, name="gzip")
        return _inflate(data, _deflate_wbits(data), limit, too_large, members=False, name="deflate")


def _deflate_wbits(data: bytes) -> int:
    """``deflate`` is meant to be the zlib format (RFC 1950), but senders also send bare deflate
    (RFC 1951); a valid zlib header tells them apart, as browsers and curl do."""
    if len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and ((data[0] << 8) | data[1]) % 31 == 0:
        return _ZLIB_WBITS
    return _RAW_WBITS


def _inflate(data: bytes, wbits: int, limit: int, too_large: DecodedTooLarge, *, members: bool, name: str) -> bytes:
    """Decode ``data`` with at most ``limit + 1`` bytes of output; gzip may be several members (RFC 1952)."""
    invalid = f"The body is not valid {name}"
    out: list[bytes] = []
    size = 0
    inflater = zlib.decompressobj(wbits)
    try:
        for start in range(0, len(data), _SLICE):
            pending = data[start : start + _SLICE]
            while pending:
                if inflater.eof:  # a member ended: what follows must be another member
                    if not members:
                        raise InvalidBody(f"{invalid}: bytes follow the end of the stream.")
                    inflater = zlib.decompressobj(wbits)
                piece = inflater.decompress(pending, limit - size + 1)
                size += len(piece)
                if size > limit:
                    raise too_large
                out.append(piece)
                pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    except zlib.error as exc:
        raise InvalidBody(f"{invalid}: {exc}.") from None
    if not inflater.eof:
        raise InvalidBody(f"{invalid}: the stream is truncated.")
    return b"".join(out)
