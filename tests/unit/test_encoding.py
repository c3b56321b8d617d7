"""Content-Encoding: the codings a trigger takes, and decoding within bounds (bombs, corrupt, truncated)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.shaping.bodies import InvalidBody
from hookgate.gateway.shaping.encoding import BodyDecoder, DecodedTooLarge, DecompressConfig, content_codings
from tests.support.bombs import zeros_deflate, zeros_gzip

PAYLOAD = b'{"action": "opened", "number": 1347}' * 20


def decoder(**cfg: object) -> BodyDecoder:
    return BodyDecoder.from_config(DecompressConfig.model_validate(cfg), max_body_bytes=1_048_576)


def zlib_deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def test_content_codings_are_read_in_order_without_identity_and_with_x_gzip_as_gzip() -> None:
    assert content_codings([]) == []
    assert content_codings(["GZip"]) == ["gzip"]
    assert content_codings(["x-gzip"]) == ["gzip"]
    assert content_codings(["identity", " "]) == []
    assert content_codings(["deflate, gzip", "br"]) == ["deflate", "gzip", "br"]


def test_a_decoder_accepts_exactly_one_coding_it_was_configured_for() -> None:
    gz = decoder(encodings=["gzip"])
    assert gz.accepts(["gzip"])
    assert not gz.accepts(["deflate"])
    assert not gz.accepts(["br"])
    assert not gz.accepts(["gzip", "gzip"])  # stacked codings are never decoded
    assert decoder().encodings == {"gzip", "deflate"}


def test_decompress_config_defaults_and_errors_name_the_key() -> None:
    d = decoder()
    assert (d.max_bytes, d.max_ratio, d.verify_encoded) == (1_048_576, 100, False)
    assert decoder(max_bytes=10, verify="encoded").max_bytes == 10
    base = {"id": "d" * 24, "name": "t", "tenant": "acme", "verify": {"type": "none"}}
    with pytest.raises(ConfigError, match=r"decompress\.encodings"):
        load_model(TriggerConfig, {**base, "decompress": {"encodings": ["br"]}}, "<test>", env={})
    with pytest.raises(ConfigError, match=r"decompress\.max_ratio"):
        load_model(TriggerConfig, {**base, "decompress": {"max_ratio": 0.5}}, "<test>", env={})


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib_deflate), ("deflate", raw_deflate)],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_valid_streams_decode_to_the_payload(coding: str, encode: object) -> None:
    assert callable(encode)
    assert decoder().decode(coding, encode(PAYLOAD)) == PAYLOAD


def test_gzip_of_several_members_decodes_to_their_concatenation() -> None:
    body = gzip.compress(b"first,") + gzip.compress(b"second")
    assert decoder().decode("gzip", body) == b"first,second"


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", b"\x1f\x8b\x08\x00" + b"not deflate data at all"),
        ("gzip", PAYLOAD),  # not gzip at all
        ("deflate", b"\xff\xfe\xfd garbage"),
        ("deflate", zlib_deflate(PAYLOAD)[:-4] + b"\x00\x00\x00\x00"),  # wrong Adler-32
        ("gzip", gzip.compress(PAYLOAD)[:-8] + b"\x00" * 8),  # wrong CRC-32 and size
    ],
    ids=["gzip-corrupt", "gzip-plain", "deflate-corrupt", "deflate-checksum", "gzip-checksum"],
)
def test_corrupt_streams_are_invalid_bodies(coding: str, body: bytes) -> None:
    with pytest.raises(InvalidBody, match=f"not valid {coding}"):
        decoder().decode(coding, body)


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(PAYLOAD)[:-10]),
        ("gzip", gzip.compress(PAYLOAD)[:-1]),  # only the size's last byte is missing
        ("deflate", zlib_deflate(PAYLOAD)[:-2]),
        ("deflate", raw_deflate(PAYLOAD)[: len(raw_deflate(PAYLOAD)) // 2]),
        ("gzip", gzip.compress(b"a") + gzip.compress(b"b")[:-3]),  # the second member is cut
    ],
    ids=["gzip", "gzip-last-byte", "deflate-zlib", "deflate-raw", "gzip-second-member"],
)
def test_a_truncated_stream_is_invalid_never_its_prefix(coding: str, body: bytes) -> None:
    with pytest.raises(InvalidBody, match="truncated"):
        decoder().decode(coding, body)


def test_bytes_after_the_end_of_the_stream_are_invalid() -> None:
    with pytest.raises(InvalidBody, match="bytes follow"):
        decoder().decode("deflate", zlib_deflate(PAYLOAD) + b"trailing")
    with pytest.raises(InvalidBody, match="not valid gzip"):
        decoder().decode("gzip", gzip.compress(PAYLOAD) + b"trailing")


@pytest.mark.parametrize(("coding", "bomb"), [("gzip", zeros_gzip), ("deflate", zeros_deflate)])
def test_a_bomb_stops_at_max_bytes(coding: str, bomb: object) -> None:
    assert callable(bomb)
    body = bomb(1024)  # 1 GiB of zeros in about 1 MB
    assert len(body) < 1_100_000
    with pytest.raises(DecodedTooLarge) as raised:
        decoder(max_bytes=1_048_576, max_ratio=100_000).decode(coding, body)
    assert raised.value.reason == "decoded_too_large"
    assert str(raised.value) == "The decoded body exceeds 1048576 bytes."


def test_the_bomb_builders_make_valid_streams() -> None:
    assert decoder(max_ratio=100_000).decode("gzip", zeros_gzip(1)) == bytes(1 << 20)
    assert gzip.decompress(zeros_gzip(2)) == bytes(2 << 20)
    assert zlib.decompress(zeros_deflate(2)) == bytes(2 << 20)


def test_the_ratio_bounds_output_per_received_byte() -> None:
    body = gzip.compress(bytes(100_000))  # about 130 bytes: a ratio near 770
    with pytest.raises(DecodedTooLarge) as raised:
        decoder(max_ratio=100).decode("gzip", body)
    assert raised.value.reason == "compression_ratio_exceeded"
    assert decoder(max_ratio=1000).decode("gzip", body) == bytes(100_000)


def test_output_exactly_at_the_limit_is_accepted() -> None:
    body = gzip.compress(PAYLOAD)
    assert decoder(max_bytes=len(PAYLOAD), max_ratio=100_000).decode("gzip", body) == PAYLOAD
    with pytest.raises(DecodedTooLarge):
        decoder(max_bytes=len(PAYLOAD) - 1, max_ratio=100_000).decode("gzip", body)
