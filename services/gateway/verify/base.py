"""The verification contract every preset implements.

A verifier is pure: it sees the request as received (method, URL as the sender saw it, headers, raw
body, client address) and a clock value, and returns a :class:`Verdict`, whatever the request holds: it
never raises. It performs no I/O, so each preset is tested against the sender's published vectors
without a server.

Header values are text as aiohttp decoded them (UTF-8 with ``surrogateescape``), so they may hold bytes
that are not UTF-8. Whatever is signed or compared with a secret becomes bytes through :func:`wire`
(the bytes as received, never an encoding error: such a value matches nothing and is a plain
``bad_signature`` or ``bad_token``), and whatever a verdict names from a header through
:func:`optional_header` (valid text). What it reads from
the body it reads through the request's :class:`~hookgate.gateway.shaping.bodies.LazyBody`, which
the handler shares, so the body is parsed once per request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Protocol

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy, MultiMapping

from hookgate.core.config import StrictModel
from hookgate.gateway.intake.headertext import header_bytes, header_text
from hookgate.gateway.shaping.bodies import BodyKind, LazyBody, ParsedBody, media_type

Headers = CIMultiDictProxy[str] | CIMultiDict[str]
Query = MultiMapping[str]


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A received webhook, as verification sees it."""

    method: str
    url: str  # absolute URL as the sender addressed it (proxy-reconstructed)
    headers: Headers
    body: bytes
    query: Query = field(default_factory=lambda: MultiDictProxy(MultiDict()))
    client_ip: str = ""
    now: float = 0.0  # unix seconds; the clock the replay window is measured against
    # The body parsed lazily, shared with the handler; made from ``body`` and Content-Type when not given.
    shared_body: LazyBody | None = None

    def __post_init__(self) -> None:
        if self.shared_body is None:
            media = media_type(self.headers.get("Content-Type", ""))
            object.__setattr__(self, "shared_body", LazyBody(self.body, media))

    def _body(self) -> LazyBody:
        shared = self.shared_body
        if shared is None:  # pragma: no cover - __post_init__ always sets it
            raise RuntimeError("WebhookRequest without a body")
        return shared

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object (the shared parse), or ``None`` when it is not one."""
        return self._body().json_object()

    def body_as(self, kind: BodyKind) -> ParsedBody | None:
        """The body read as ``kind`` (see :meth:`LazyBody.as_kind`), or ``None`` when it is not one."""
        return self._body().as_kind(kind)


@dataclass(frozen=True, slots=True)
class HandshakeReply:
    """The answer a sender expects to its endpoint-validation request (Slack ``url_verification``,
    Zoom ``endpoint.url_validation``, Twitch ``webhook_callback_verification``, Discord PING,
    WebSub ``hub.challenge``). The gateway sends it as the HTTP reply and produces nothing to Kafka."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of verification.

    ``reason`` is a stable snake_case code (``missing_signature``, ``bad_signature``,
    ``stale_timestamp``, ...) used as a metrics label and in the audit record; the HTTP reply
    stays a terse 401 whatever it says. On success the preset may name the sender's delivery id
    and event type, so a sender's retry carries the same CloudEvents ``id``.
    """

    ok: bool
    reason: str = "ok"
    delivery_id: str | None = None
    event_type: str | None = None
    subject: str | None = None
    handshake: HandshakeReply | None = None  # set when the verified request is a sender's handshake

    @classmethod
    def fail(cls, reason: str) -> Verdict:
        return cls(ok=False, reason=reason)


class Verifier(Protocol):
    """Checks that a request comes from the configured sender."""

    def verify(self, request: WebhookRequest) -> Verdict: ...


class HeadVerifier(Verifier, Protocol):
    """A verifier that can also judge the request head alone, before the body is read (an optional
    capability: presets whose credential travels in the headers or the URL implement it)."""

    def verify_head(self, request: WebhookRequest) -> Verdict | None:
        """The verdict from the head alone (``request.body`` is empty), or ``None`` when the body is needed.

        A failed verdict refuses the request before its body is read; an ok one lets it go on, and
        :meth:`verify` still judges the whole request.
        """
        ...


def head_verdict(verifier: Verifier, request: WebhookRequest) -> Verdict | None:
    """``verifier.verify_head(request)`` when the verifier has that capability, else ``None``."""
    check = getattr(verifier, "verify_head", None)
    return None if check is None else check(request)


@dataclass(frozen=True, slots=True)
class PresetWarning:
    """Something a valid preset config does that an operator should hear about at start-up."""

    event: str  # the log event, e.g. ``replay_window_disabled``
    key: str  # the option it is about, relative to ``verify``
    message: str


class PresetConfig(StrictModel):
    """Base of every preset's config model: a ``type`` literal plus the preset's options."""

    @abstractmethod
    def build(self) -> Verifier:
        """The verifier this config describes."""

    def startup_warnings(self) -> list[PresetWarning]:
        """What the gateway logs as a warning when it starts with this config (nothing by default)."""
        return []

    @abstractmethod
    def header_names(self) -> frozenset[str]:
        """Every request header this preset's verifier reads, lower case (see :func:`header_set`).

        Credentials, signatures, signed timestamps and ids, and the headers that name the delivery: the
        audit record redacts them all whatever they are called, so a trigger's own token header
        (``header_token`` on ``X-Relay-Key``) is never logged. ``tests/unit/test_verify_header_names.py``
        checks that every preset declares each header it reads.
        """


def header_set(*names: str | None) -> frozenset[str]:
    """Header names as :meth:`PresetConfig.header_names` returns them: lower case, unset ones left out."""
    return frozenset(name.lower() for name in names if name)


class Rejected(Exception):
    """Raised inside a verifier to stop with a failure reason; :class:`CheckedVerifier` turns it into
    a failed :class:`Verdict`. Keeps every check a single line without threading results by hand."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reject(reason: str) -> NoReturn:
    """Stop verification with ``reason``."""
    raise Rejected(reason)


class CheckedVerifier:
    """Base for verifiers written as a straight sequence of checks that :func:`reject` on failure."""

    def verify(self, request: WebhookRequest) -> Verdict:
        try:
            return self.check(request)
        except Rejected as exc:
            return Verdict.fail(exc.reason)

    @abstractmethod
    def check(self, request: WebhookRequest) -> Verdict:
        """The verdict for a request; failures raise :class:`Rejected` (via :func:`reject`)."""


def header_once(
    headers: Headers,
    name: str,
    missing: str = "missing_signature",
    duplicate: str = "duplicate_signature_header",
) -> str:
    """The value of a header that must be present exactly once, else :func:`reject` with a reason."""
    values = headers.getall(name, [])
    if not values:
        reject(missing)
    if len(values) > 1:
        reject(duplicate)
    return values[0]


def optional_header(headers: Headers, name: str) -> str | None:
    """A descriptive header (delivery id, event name): its single value as valid text (bytes that are
    not UTF-8 become U+FFFD), or ``None`` if absent or repeated."""
    values = headers.getall(name, [])
    return header_text(values[0]) if len(values) == 1 and values[0] else None


def wire(text: str) -> bytes:
    """Request text (a header value, the URL, a query parameter) as the bytes that arrived, for signing
    and comparing with secrets: never ``str.encode()``, which raises on bytes that are not UTF-8."""
    return header_bytes(text)


def named(text: str | None) -> str | None:
    """Request text a verdict names (a signed delivery id) as valid text, see :func:`optional_header`."""
    return header_text(text) or None


def any_matches(expected: bytes, candidates: Sequence[bytes]) -> bool:
    """Constant-time membership: every candidate is compared, whatever the outcome of the others."""
    found = False
    for cand in candidates:
        found |= hmac.compare_digest(expected, cand)
    return found


def matching_index(given: Sequence[bytes], expected: Sequence[bytes]) -> int | None:
    """Index into ``expected`` (one per active secret) of a value equal to any of ``given``.

    Every pair is compared in constant time whatever the earlier outcomes, so timing reveals neither
    which secret nor which of several presented signatures matched.
    """
    found: int | None = None
    for i, exp in enumerate(expected):
        hit = False
        for g in given:
            hit |= hmac.compare_digest(exp, g)
        if hit and found is None:
            found = i
    return found


def parse_pairs(value: str, separator: str = ",") -> list[tuple[str, str]]:
    """``k=v<sep>k=v`` (Stripe, Paddle, PagerDuty) as pairs in order; a part without ``=`` is malformed."""
    pairs = []
    for part in value.split(separator):
        key, eq, val = part.strip().partition("=")
        if not eq or not key:
            reject("malformed_signature")
        pairs.append((key, val))
    return pairs


def only_value(pairs: Sequence[tuple[str, str]], key: str, missing: str) -> str:
    """The single value of ``key`` among ``pairs``: missing -> ``missing``; repeated -> malformed."""
    values = [v for k, v in pairs if k == key]
    if not values:
        reject(missing)
    if len(values) > 1:
        reject("malformed_signature")
    return values[0]


def decode_b64(value: str, reason: str = "malformed_signature") -> bytes:
    """Strict base64 (standard alphabet, padding optional) or :func:`reject` with ``reason``."""
    text = value.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        reject(reason)


def decode_hex(value: str, reason: str = "malformed_signature") -> bytes:
    """Hex (either case) or :func:`reject` with ``reason``."""
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        reject(reason)


def hmac_digests(secrets: Sequence[bytes], message: bytes, algorithm: str = "sha256") -> list[bytes]:
    """The raw HMAC of ``message`` under each active secret, in secret order."""
    return [hmac.new(s, message, algorithm).digest() for s in secrets]


def require_match(given: Sequence[bytes], expected: Sequence[bytes]) -> int:
    """The index of the secret that produced one of ``given``; :func:`reject` ``bad_signature`` otherwise."""
    index = matching_index(given, expected)
    if index is None:
        reject("bad_signature")
    return index


def decode_signature(value: str, encoding: Literal["hex", "base64"]) -> bytes:
    """A signature in ``encoding``, or :func:`reject` ``malformed_signature``."""
    return decode_hex(value) if encoding == "hex" else decode_b64(value)


def listed_signatures(values: Sequence[str], encoding: Literal["hex", "base64"] = "hex") -> list[bytes]:
    """The decodable signatures of a sender's list (Stripe ``v1``, Paddle ``h1``, PagerDuty ``v1``).

    An entry that does not decode can match nothing and is skipped, as the senders' SDKs do; a list
    in which no entry decodes is malformed, and an empty one is a missing signature.
    """
    if not values:
        reject("missing_signature")
    out = []
    for value in values:
        try:
            out.append(decode_signature(value, encoding))
        except Rejected:
            continue
    if not out:
        reject("malformed_signature")
    return out


def secrets_bytes(secrets: Sequence[object]) -> list[bytes]:
    """Secret values (pydantic ``SecretStr``) as bytes; several are active during a rotation."""
    out = []
    for s in secrets:
        get = getattr(s, "get_secret_value", None)
        out.append((get() if get else str(s)).encode())
    return out
