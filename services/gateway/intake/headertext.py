"""Header values as valid Unicode text.

aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so a header that is not UTF-8 arrives
holding lone surrogates, which cannot be encoded into a Kafka header or JSON. Such bytes become U+FFFD
wherever a header value is copied into an event (variables, templates).
"""

from __future__ import annotations


def header_text(value: str | None) -> str | None:
    """``value`` unchanged when it is valid text, else with undecodable bytes replaced by U+FFFD."""
    if value is None or value.isascii():
        return value
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value
