"""Discord: ``X-Signature-Ed25519: <hex Ed25519 signature of timestamp + raw body>``.

Checked against the application's public key (hex, from the developer portal). The signed
``X-Signature-Timestamp`` (unix seconds) must be within ``tolerance_seconds`` (default 300).
``endpoint: interactions`` (default) answers a signed PING (``type`` 1) with ``{"type": 1}``;
``endpoint: events`` answers the webhook-events PING (``type`` 0) with 204. Interactions are
delivered with their ``id`` as delivery id and typed ``com.discord.interaction.<kind>``
(``application_command``, ``message_component``, ...); webhook events as ``com.discord.<event type>``.
https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
"""

from __future__ import annotations

from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, field_validator

from hookgate.gateway.shaping.handshakes import discord_ping
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_hex,
    header_once,
    reject,
)
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.payload import field, json_object
from hookgate.gateway.verify.replay import check_window, parse_unix

INTERACTION_KINDS = {
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}


def _key(value: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value.strip()))
    except ValueError:
        raise ValueError("not a hex Ed25519 public key (64 hex digits)") from None


class DiscordConfig(PresetConfig):
    type: Literal["discord"]
    public_keys: list[str] = Field(min_length=1)
    endpoint: Literal["interactions", "events"] = "interactions"
    tolerance_seconds: int = Field(default=300, gt=0)

    @field_validator("public_keys")
    @classmethod
    def _keys_decode(cls, value: list[str]) -> list[str]:
        for k in value:
            _key(k)
        return value

    def build(self) -> Verifier:
        return DiscordVerifier(self)


class DiscordVerifier(CheckedVerifier):
    def __init__(self, config: DiscordConfig) -> None:
        self._keys = [_key(k) for k in config.public_keys]
        self._endpoint = config.endpoint
        self._tolerance = config.tolerance_seconds

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = decode_hex(header_once(h, "X-Signature-Ed25519"))
        ts = header_once(h, "X-Signature-Timestamp", "missing_timestamp", "duplicate_timestamp_header")
        timestamp = parse_unix(ts)
        if not any(_verifies(key, sig, ts.encode() + request.body) for key in self._keys):
            reject("bad_signature")
        check_window(timestamp, request.now, self._tolerance)
        payload = json_object(request.body)
        handshake = discord_ping(payload, self._endpoint)
        if handshake is not None:
            return Verdict(ok=True, event_type="com.discord.ping", handshake=handshake)
        if self._endpoint == "events":
            return Verdict(ok=True, event_type=ce_type("discord", field(payload, "event", "type")))
        kind = payload.get("type") if payload is not None else None
        name = INTERACTION_KINDS.get(kind) if isinstance(kind, int) else None
        return Verdict(
            ok=True,
            delivery_id=field(payload, "id"),
            event_type=f"com.discord.interaction.{name}" if name else None,
            subject=field(payload, "guild_id"),
        )


def _verifies(key: Ed25519PublicKey, signature: bytes, content: bytes) -> bool:
    try:
        key.verify(signature, content)
    except InvalidSignature:
        return False
    return True
