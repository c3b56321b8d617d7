"""SendGrid (Twilio SendGrid) signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body.

``X-Twilio-Email-Event-Webhook-Signature`` is the base64 DER signature and
``X-Twilio-Email-Event-Webhook-Timestamp`` the signed unix timestamp, which must be within
``tolerance_seconds`` (default 300). ``public_keys`` are the verification keys shown in SendGrid's
mail settings (base64 DER ``SubjectPublicKeyInfo``; a PEM block is accepted too). A delivery is a
batch of events, so there is no single delivery id or type: set the trigger's ``type``.
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from pydantic import Field, field_validator

from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_b64,
    header_once,
    reject,
)
from hookgate.gateway.verify.replay import check_window, parse_unix

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def _key(value: str) -> ec.EllipticCurvePublicKey:
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


class SendGridConfig(PresetConfig):
    type: Literal["sendgrid"]
    public_keys: list[str] = Field(min_length=1)
    tolerance_seconds: int = Field(default=300, gt=0)

    @field_validator("public_keys")
    @classmethod
    def _keys_decode(cls, value: list[str]) -> list[str]:
        for k in value:
            _key(k)
        return value

    def build(self) -> Verifier:
        return SendGridVerifier(self)


class SendGridVerifier(CheckedVerifier):
    def __init__(self, config: SendGridConfig) -> None:
        self._keys = [_key(k) for k in config.public_keys]
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = decode_b64(header_once(h, SIGNATURE_HEADER))
        ts = header_once(h, TIMESTAMP_HEADER, "missing_timestamp", "duplicate_timestamp_header")
        timestamp = parse_unix(ts)
        content = ts.encode() + request.body
        if not any(_verifies(key, sig, content) for key in self._keys):
            reject("bad_signature")
        check_window(timestamp, request.now, self._tolerance)
        return Verdict(ok=True)


def _verifies(key: ec.EllipticCurvePublicKey, signature: bytes, content: bytes) -> bool:
    try:
        key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
