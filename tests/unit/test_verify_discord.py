"""Discord: Ed25519 over timestamp + body, PING handshakes and interaction typing.

Discord publishes neither a fixed test vector nor a Python SDK for verification, so requests are
signed here with a generated key (Ed25519 itself is deterministic and from ``cryptography``).
"""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict
from pydantic import ValidationError

from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.discord import DiscordConfig

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_HEX = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
TS = "1700000000"


def verify(body: bytes, *, endpoint: str = "interactions", key: Ed25519PrivateKey = KEY) -> Verdict:
    config = DiscordConfig(type="discord", public_keys=[PUBLIC_HEX], endpoint=endpoint)  # type: ignore[arg-type]
    headers = CIMultiDict([("X-Signature-Ed25519", key.sign(TS.encode() + body).hex()), ("X-Signature-Timestamp", TS)])
    return config.build().verify(WebhookRequest("POST", "https://h/hooks/x", headers, body, now=float(TS)))


def test_ping_is_answered_with_pong() -> None:
    verdict = verify(b'{"type":1,"id":"1","application_id":"2"}')
    assert verdict.ok
    assert verdict.handshake is not None
    assert (verdict.handshake.status, orjson.loads(verdict.handshake.body)) == (200, {"type": 1})
    assert verdict.handshake.content_type == "application/json"


def test_ping_signed_by_another_key_is_rejected_without_a_handshake() -> None:
    verdict = verify(b'{"type":1}', key=Ed25519PrivateKey.generate())
    assert (verdict.ok, verdict.reason, verdict.handshake) == (False, "bad_signature", None)


def test_application_command_is_mapped() -> None:
    verdict = verify(b'{"type":2,"id":"113","guild_id":"g1","data":{"name":"deploy"}}')
    assert verdict.handshake is None
    assert (verdict.delivery_id, verdict.event_type, verdict.subject) == (
        "113",
        "com.discord.interaction.application_command",
        "g1",
    )


def test_webhook_events_endpoint_ping_and_event() -> None:
    ping = verify(b'{"version":1,"application_id":"2","type":0}', endpoint="events")
    assert ping.handshake is not None
    assert (ping.handshake.status, ping.handshake.body) == (204, b"")
    event = verify(
        b'{"version":1,"application_id":"2","type":1,"event":{"type":"APPLICATION_AUTHORIZED","data":{}}}',
        endpoint="events",
    )
    assert (event.handshake, event.event_type) == (None, "com.discord.application_authorized")


@pytest.mark.parametrize("key", ["xyz", "00" * 31])
def test_bad_public_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        DiscordConfig(type="discord", public_keys=[key])
