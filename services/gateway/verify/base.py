"""The verification contract every preset implements.

A verifier is pure: it sees the request as received (method, URL as the sender saw it, headers, raw
body, client address) and a clock value, and returns a :class:`Verdict`. It performs no I/O, so
each preset is tested against the sender's published vectors without a server.
"""

from __future__ import annotations

import hmac
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy, MultiMapping

from hookgate.core.config import StrictModel

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

    @classmethod
    def fail(cls, reason: str) -> Verdict:
        return cls(ok=False, reason=reason)


class Verifier(Protocol):
    """Checks that a request comes from the configured sender."""

    def verify(self, request: WebhookRequest) -> Verdict: ...


class PresetConfig(StrictModel):
    """Base of every preset's config model: a ``type`` literal plus the preset's options."""

    @abstractmethod
    def build(self) -> Verifier:
        """The verifier this config describes."""


def single_header(headers: Headers, name: str) -> str | None:
    """The header's value when present exactly once; ``None`` when absent or duplicated.

    A duplicated signature header is rejected rather than guessed at: an intermediary that appends
    a header must not be able to choose which copy is checked.
    """
    values = headers.getall(name, [])
    if len(values) != 1:
        return None
    return values[0]


def any_matches(expected: bytes, candidates: Sequence[bytes]) -> bool:
    """Constant-time membership: every candidate is compared, whatever the outcome of the others."""
    found = False
    for cand in candidates:
        found |= hmac.compare_digest(expected, cand)
    return found


def secrets_bytes(secrets: Sequence[object]) -> list[bytes]:
    """Secret values (pydantic ``SecretStr``) as bytes; several are active during a rotation."""
    out = []
    for s in secrets:
        get = getattr(s, "get_secret_value", None)
        out.append((get() if get else str(s)).encode())
    return out


def header_map(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """Build a case-insensitive header multidict (for tests and the CLI)."""
    return CIMultiDict(headers)
