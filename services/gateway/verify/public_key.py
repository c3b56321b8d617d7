"""Public-key schemes: the sender signs ``{timestamp}{raw body}`` with its private key and publishes the public one.

Discord (Ed25519, hex) and SendGrid (ECDSA P-256 / SHA-256, base64 DER) differ only in header names,
the signature's encoding and the key type: a :class:`KeyScheme` says which, and
:class:`PublicKeyVerifier` checks either. Standard Webhooks ``v1a`` uses :func:`any_key_verifies` too.
Public keys are configured like secrets (``${ENV}``, ``file:``): see :data:`Ed25519HexKey` and
:data:`P256Key`. ``cryptography`` is imported when a key is parsed or checked, not with this module:
a gateway without a public-key trigger does not load its native library (several MiB of RSS).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Literal, cast

from hookgate.core.config import Secret, secret_format
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    Verdict,
    WebhookRequest,
    decode_signature,
    header_once,
    header_set,
    reject,
    wire,
)
from hookgate.gateway.verify.replay import check_window, parse_unix

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def ed25519_hex(value: str) -> Ed25519PublicKey:
    """A raw Ed25519 public key in hex (Discord's developer portal shows it so)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value.strip()))
    except ValueError:
        raise ValueError("not a hex Ed25519 public key (64 hex digits)") from None


def p256_key(value: str) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key: base64 DER ``SubjectPublicKeyInfo`` (as SendGrid shows it) or PEM."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode())
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("not a base64 DER (or PEM) public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


Ed25519HexKey = Annotated[Secret, secret_format(ed25519_hex)]
P256Key = Annotated[Secret, secret_format(p256_key)]


@cache
def _primitives() -> tuple[type[Exception], type[Ed25519PublicKey], ec.ECDSA]:
    """What :func:`verifies` needs of ``cryptography``, imported once (a per-call import costs ~3 us)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return InvalidSignature, Ed25519PublicKey, ec.ECDSA(hashes.SHA256())


def verifies(key: PublicKey, signature: bytes, content: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``content`` (Ed25519, or ECDSA with SHA-256)."""
    invalid, ed25519, ecdsa_sha256 = _primitives()
    try:
        if isinstance(key, ed25519):
            key.verify(signature, content)
        else:  # mypy narrows no else branch on a class held in a variable
            cast("ec.EllipticCurvePublicKey", key).verify(signature, content, ecdsa_sha256)
    except invalid:
        return False
    return True


def any_key_verifies(keys: Sequence[PublicKey], signatures: Sequence[bytes], content: bytes) -> bool:
    """Whether any of ``signatures`` verifies under any of ``keys`` (several during a rotation)."""
    return any(verifies(key, sig, content) for sig in signatures for key in keys)


@dataclass(frozen=True, slots=True)
class KeyScheme:
    """Where a public-key sender puts its signature and the signed unix timestamp."""

    signature_header: str
    timestamp_header: str
    encoding: Literal["hex", "base64"]

    @property
    def headers(self) -> frozenset[str]:
        """The headers :class:`PublicKeyVerifier` reads (lower case)."""
        return header_set(self.signature_header, self.timestamp_header)


class PublicKeyVerifier(CheckedVerifier):
    """A :class:`KeyScheme` under the configured keys, then what the sender's request names."""

    def __init__(
        self,
        scheme: KeyScheme,
        keys: Sequence[PublicKey],
        tolerance: int | None,
        describe: Callable[[WebhookRequest], Verdict],
    ) -> None:
        self._scheme = scheme
        self._keys = list(keys)
        self._tolerance = tolerance
        self._describe = describe

    def check(self, request: WebhookRequest) -> Verdict:
        s, h = self._scheme, request.headers
        sig = decode_signature(header_once(h, s.signature_header), s.encoding)
        ts = header_once(h, s.timestamp_header, "missing_timestamp", "duplicate_timestamp_header")
        timestamp = parse_unix(ts)
        if not any_key_verifies(self._keys, [sig], wire(ts) + request.body):
            reject("bad_signature")
        check_window(timestamp, request.now, self._tolerance)
        return self._describe(request)
