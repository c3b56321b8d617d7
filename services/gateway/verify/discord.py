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

from functools import partial
from typing import Literal

from pydantic import Field

from hookgate.gateway.shaping.handshakes import discord_ping
from hookgate.gateway.verify.base import Verdict, Verifier, WebhookRequest
from hookgate.gateway.verify.eventtype import ce_type
from hookgate.gateway.verify.options import TimestampedPreset
from hookgate.gateway.verify.payload import field
from hookgate.gateway.verify.public_key import Ed25519HexKey, KeyScheme, PublicKeyVerifier, ed25519_hex

SCHEME = KeyScheme("X-Signature-Ed25519", "X-Signature-Timestamp", "hex")
INTERACTION_KINDS = {
    2: "application_command",
    3: "message_component",
    4: "application_command_autocomplete",
    5: "modal_submit",
}


class DiscordConfig(TimestampedPreset):
    type: Literal["discord"]
    public_keys: list[Ed25519HexKey] = Field(min_length=1)
    endpoint: Literal["interactions", "events"] = "interactions"

    def build(self) -> Verifier:
        keys = [ed25519_hex(k.get_secret_value()) for k in self.public_keys]
        return PublicKeyVerifier(SCHEME, keys, self.tolerance_seconds, partial(describe, endpoint=self.endpoint))

    def header_names(self) -> frozenset[str]:
        return SCHEME.headers


def describe(request: WebhookRequest, endpoint: str) -> Verdict:
    """The verdict for a verified Discord request: a PING, a webhook event or an interaction."""
    payload = request.json_object()
    handshake = discord_ping(payload, endpoint)
    if handshake is not None:
        return Verdict(ok=True, event_type="com.discord.ping", handshake=handshake)
    if endpoint == "events":
        return Verdict(ok=True, event_type=ce_type("discord", field(payload, "event", "type")))
    kind = payload.get("type") if payload is not None else None
    name = INTERACTION_KINDS.get(kind) if isinstance(kind, int) else None
    return Verdict(
        ok=True,
        delivery_id=field(payload, "id"),
        event_type=f"com.discord.interaction.{name}" if name else None,
        subject=field(payload, "guild_id"),
    )
