"""SendGrid (Twilio SendGrid) signed Event Webhook: ECDSA P-256 / SHA-256 over timestamp + raw body.

``X-Twilio-Email-Event-Webhook-Signature`` is the base64 DER signature and
``X-Twilio-Email-Event-Webhook-Timestamp`` the signed unix timestamp, which must be within
``tolerance_seconds`` (default 300). ``public_keys`` are the verification keys shown in SendGrid's
mail settings (base64 DER ``SubjectPublicKeyInfo``; a PEM block is accepted too). A delivery is a
batch of events, so there is no single delivery id or type: set the trigger's ``type``.
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.gateway.verify.base import Verdict, Verifier, WebhookRequest
from hookgate.gateway.verify.options import TimestampedPreset
from hookgate.gateway.verify.public_key import KeyScheme, P256Key, PublicKeyVerifier, p256_key

SCHEME = KeyScheme("X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp", "base64")


class SendGridConfig(TimestampedPreset):
    type: Literal["sendgrid"]
    public_keys: list[P256Key] = Field(min_length=1)

    def build(self) -> Verifier:
        keys = [p256_key(k.get_secret_value()) for k in self.public_keys]
        return PublicKeyVerifier(SCHEME, keys, self.tolerance_seconds, _batch)

    def header_names(self) -> frozenset[str]:
        return SCHEME.headers


def _batch(request: WebhookRequest) -> Verdict:
    """A batch of events names no single id or type."""
    del request
    return Verdict(ok=True)
