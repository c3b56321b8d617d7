"""Header values as valid Unicode text, and as the bytes that arrived.

aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so a header that is not UTF-8 arrives
holding lone surrogates, which cannot be encoded into a Kafka header or JSON, and make a plain
``str.encode()`` raise. So header-derived text is never encoded directly: wherever a header value is
copied into an event (variables, templates, a delivery id) it goes through :func:`header_text`, which
turns such bytes into U+FFFD; wherever it is compared with a secret or signed (credentials, signed
timestamps and ids, the URL from ``Host``) through :func:`header_bytes`, which gives back the bytes as
received, so a value that is not UTF-8 simply matches nothing.
"""

from __future__ import annotations


def header_text(value: str | None) -> str | None:
    """``value`` unchanged when it is valid text, else with undecodable bytes replaced by U+FFFD."""
    if value is None or value.isascii():
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return header_bytes(value).decode("utf-8", "replace")
    return value


def header_bytes(value: str) -> bytes:
    """The bytes ``value`` was decoded from: UTF-8 with ``surrogateescape`` undone.

    Never raises: a lone surrogate that no byte escape explains (so not from aiohttp) is kept as its
    UTF-8-style encoding, which is not valid UTF-8 and so equals no configured secret.
    """
    if value.isascii():
        return value.encode("ascii")
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
