"""Shared-secret HMAC schemes as data: where a sender puts its signature, timestamp and id, and what it signs.

Most senders sign with an HMAC and differ only in header names, encodings and the bytes covered. A
:class:`HmacScheme` says which, and :func:`check_hmac` checks any of them the same way, in the same
order and with the same failure reasons: signature header (exactly once), signed timestamp, signed id,
signature format, the HMAC under every active secret, then the replay window. The senders built on
it are rows in :mod:`.senders`; the generic ``hmac`` preset builds its scheme from its options.

The signed content is a template of literal text and placeholders: ``{body}`` (the raw body bytes),
``{timestamp}`` and ``{id}`` (the signed values as sent), ``{method}`` and ``{url}`` (the URL the
sender signed, see :func:`~hookgate.gateway.verify.options.signed_url`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from hookgate.gateway.verify.base import (
    CheckedVerifier,
    Headers,
    Verdict,
    WebhookRequest,
    decode_signature,
    header_once,
    header_set,
    hmac_digests,
    listed_signatures,
    named,
    only_value,
    parse_pairs,
    reject,
    require_match,
    secrets_bytes,
    wire,
)
from hookgate.gateway.verify.options import signed_url
from hookgate.gateway.verify.payload import field as body_field
from hookgate.gateway.verify.replay import TimestampFormat, check_window, parse_timestamp

PLACEHOLDER = re.compile(r"\{([a-z]*)\}")
PLACEHOLDERS = frozenset({"body", "timestamp", "id", "method", "url"})


@dataclass(frozen=True, slots=True)
class SignatureList:
    """The signature header is a list of ``key=value`` pairs: Stripe ``t=..,v1=..``, Paddle ``ts=..;h1=..``.

    Every value under ``key`` is a signature (several while a secret is rolled); other keys are ignored.
    """

    separator: str
    key: str


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Where the signed timestamp is: its own header, a key of the signature list, or a body field.

    A body field (Linear's ``webhookTimestamp``) is signed as part of the body and read once the
    signature matched.
    """

    header: str | None = None
    pair: str | None = None
    body_field: tuple[str, ...] = ()
    format: TimestampFormat = "unix"


@dataclass(frozen=True, slots=True)
class HmacScheme:
    """One sender's HMAC signature: its header and format, and the template of what it signs."""

    header: str
    template: str = "{body}"
    prefix: str = ""  # before the signature in the header (``sha256=``, ``v0=``)
    encoding: Literal["hex", "base64"] = "hex"
    algorithm: str = "sha256"
    signature_list: SignatureList | None = None
    timestamp: Timestamp | None = None
    id_header: str | None = None
    # the template split once into literal text and placeholder names (odd positions)
    parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(PLACEHOLDER.split(self.template)))

    @property
    def signs_url(self) -> bool:
        return "url" in self.parts[1::2]

    @property
    def headers(self) -> frozenset[str]:
        """The headers :func:`check_hmac` reads for this scheme: signature, timestamp and id (lower case)."""
        return header_set(self.header, self.timestamp.header if self.timestamp else None, self.id_header)


@dataclass(frozen=True, slots=True)
class Signed:
    """What a verified signature covered: the secret that made it and the signed delivery id, if any."""

    secret: bytes
    delivery_id: str | None


Describe = Callable[[WebhookRequest, Signed], Verdict]
"""What a sender's verified request names: delivery id, type, subject, or a handshake reply."""


def check_hmac(
    scheme: HmacScheme, request: WebhookRequest, secrets: Sequence[bytes], tolerance: int | None, url: str
) -> Signed:
    """Check ``request`` against ``scheme`` under ``secrets``; :func:`reject` with the reason on failure."""
    h = request.headers
    value = header_once(h, scheme.header)
    pairs = parse_pairs(value, scheme.signature_list.separator) if scheme.signature_list is not None else []
    ts_text, timestamp = _signed_timestamp(scheme.timestamp, h, pairs)
    msg_id = header_once(h, scheme.id_header, "missing_id", "duplicate_id_header") if scheme.id_header else None
    if scheme.signature_list is not None:
        given = listed_signatures([v for k, v in pairs if k == scheme.signature_list.key], scheme.encoding)
    elif value.startswith(scheme.prefix):
        given = [decode_signature(value[len(scheme.prefix) :], scheme.encoding)]
    else:
        reject("malformed_signature")
    values = {
        "body": request.body,
        "timestamp": wire(ts_text),
        "id": wire(msg_id or ""),
        "method": wire(request.method),
        "url": wire(url),
    }
    message = b"".join(values[part] if i % 2 else part.encode() for i, part in enumerate(scheme.parts))
    index = require_match(given, hmac_digests(secrets, message, scheme.algorithm))
    if scheme.timestamp is not None and scheme.timestamp.body_field:
        signed_ts = body_field(request.json_object(), *scheme.timestamp.body_field)
        timestamp = parse_timestamp(signed_ts, scheme.timestamp.format)
    if timestamp is not None:
        check_window(timestamp, request.now, tolerance)
    return Signed(secrets[index], named(msg_id))


def _signed_timestamp(
    where: Timestamp | None, headers: Headers, pairs: list[tuple[str, str]]
) -> tuple[str, float | None]:
    """The timestamp as sent and its value, when it is in a header or the signature list."""
    if where is None or where.body_field:
        return "", None
    if where.header is not None:
        text = header_once(headers, where.header, "missing_timestamp", "duplicate_timestamp_header")
    else:
        text = only_value(pairs, where.pair or "", "missing_timestamp")
    return text, parse_timestamp(text, where.format)


class HmacVerifier(CheckedVerifier):
    """Any sender that is an :class:`HmacScheme` plus a :data:`Describe` of what it names."""

    def __init__(
        self,
        scheme: HmacScheme,
        secrets: Sequence[SecretStr],
        tolerance: int | None,
        describe: Describe,
        configured_url: str | None = None,
    ) -> None:
        self._scheme = scheme
        self._secrets = secrets_bytes(secrets)
        self._tolerance = tolerance
        self._describe = describe
        self._url = configured_url

    def check(self, request: WebhookRequest) -> Verdict:
        url = signed_url(self._url, request) if self._scheme.signs_url else ""
        signed = check_hmac(self._scheme, request, self._secrets, self._tolerance, url)
        return self._describe(request, signed)
