"""Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.

The signature header is a space-separated list of ``<version>,<base64>``: ``v1`` is HMAC-SHA256
of ``{id}.{timestamp}.{raw body}`` under a ``whsec_`` base64 secret, ``v1a`` an Ed25519 signature
of the same content checked against a configured ``whpk_`` public key; other versions are ignored.
The timestamp (unix seconds) must be within ``tolerance_seconds`` (default 300). ``webhook-id``
is the delivery id; with ``type_prefix`` set, the body's ``type`` becomes the CloudEvents type
(``com.acme`` + ``invoice.paid`` -> ``com.acme.invoice.paid``).
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import model_validator

from hookgate.core.config import Secret, secret_format
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    Headers,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_b64,
    header_once,
    header_set,
    hmac_digests,
    named,
    reject,
    require_match,
    wire,
)
from hookgate.gateway.verify.eventtype import prefixed_type
from hookgate.gateway.verify.options import TimestampedPreset
from hookgate.gateway.verify.payload import field
from hookgate.gateway.verify.public_key import any_key_verifies
from hookgate.gateway.verify.replay import check_window, parse_unix

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def secret_key(value: str) -> bytes:
    """A ``whsec_<base64>`` (prefix optional) signing secret as raw key bytes."""
    try:
        key = _b64(value.removeprefix("whsec_"))
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_ base64 secret") from None
    if not key:
        raise ValueError("empty secret")
    return key


def public_key(value: str) -> Ed25519PublicKey:
    """A ``whpk_<base64>`` (prefix optional) raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # only when one is set

    try:
        return Ed25519PublicKey.from_public_bytes(_b64(value.strip().removeprefix("whpk_")))
    except (binascii.Error, ValueError):
        raise ValueError("not a whpk_ base64 Ed25519 public key (32 bytes)") from None


WhsecSecret = Annotated[Secret, secret_format(secret_key)]
WhpkKey = Annotated[Secret, secret_format(public_key)]


class StandardWebhooksConfig(TimestampedPreset):
    type: Literal["standard_webhooks"]
    secrets: list[WhsecSecret] = []  # whsec_... (v1 signatures)
    public_keys: list[WhpkKey] = []  # whpk_... (v1a signatures)
    type_prefix: str | None = None

    @model_validator(mode="after")
    def _some_key(self) -> StandardWebhooksConfig:
        if not self.secrets and not self.public_keys:
            raise ValueError("needs at least one of secrets (whsec_) or public_keys (whpk_)")
        return self

    def build(self) -> Verifier:
        return StandardWebhooksVerifier(self, header_prefixes=("webhook-",))

    def header_names(self) -> frozenset[str]:
        return scheme_headers(("webhook-",))


def scheme_headers(prefixes: tuple[str, ...]) -> frozenset[str]:
    """The ``<prefix>id``, ``<prefix>timestamp`` and ``<prefix>signature`` headers the verifier reads."""
    return header_set(*(prefix + name for prefix in prefixes for name in ("id", "timestamp", "signature")))


class StandardWebhooksVerifier(CheckedVerifier):
    """Also serves Svix, which sends the same scheme under ``svix-*`` header names."""

    def __init__(self, config: StandardWebhooksConfig, header_prefixes: tuple[str, ...]) -> None:
        self._secrets = [secret_key(s.get_secret_value()) for s in config.secrets]
        self._keys = [public_key(k.get_secret_value()) for k in config.public_keys]
        self._tolerance = config.tolerance_seconds
        self._type_prefix = config.type_prefix
        self._prefixes = header_prefixes

    def _prefix(self, headers: Headers) -> str:
        for prefix in self._prefixes:
            if prefix + "signature" in headers:
                return prefix
        reject("missing_signature")

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        p = self._prefix(h)
        sig_header = header_once(h, p + "signature")
        msg_id = header_once(h, p + "id", "missing_id", "duplicate_id_header")
        ts = header_once(h, p + "timestamp", "missing_timestamp", "duplicate_timestamp_header")
        timestamp = parse_unix(ts)
        symmetric, asymmetric = [], []
        for entry in sig_header.split(" "):
            if not entry:
                continue
            version, comma, value = entry.partition(",")
            if not comma:
                reject("malformed_signature")
            if version == "v1":
                symmetric.append(decode_b64(value))
            elif version == "v1a":
                asymmetric.append(decode_b64(value))
        content = wire(msg_id) + b"." + wire(ts) + b"." + request.body
        if not any_key_verifies(self._keys, asymmetric, content):
            if not symmetric or not self._secrets:
                reject("bad_signature")
            require_match(symmetric, hmac_digests(self._secrets, content))
        check_window(timestamp, request.now, self._tolerance)
        kind = field(request.json_object(), "type") if self._type_prefix else None
        event_type = prefixed_type(self._type_prefix, kind) if self._type_prefix else None
        return Verdict(ok=True, delivery_id=named(msg_id), event_type=event_type)
