"""Options every preset of a kind shares: the URL a URL-signing sender signed (``signed_url``), the
replay window (``tolerance_seconds``, ``null`` for none, at most a day), either spelling of a preset
name, and public keys given like any other secret (``${ENV}``, ``file:``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from pydantic import TypeAdapter, ValidationError

from hookgate.core.config import ConfigError, load_model
from hookgate.gateway.config import GatewayConfig, TriggerConfig
from hookgate.gateway.verify.base import Verdict, WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig

ADAPTER: TypeAdapter[Any] = TypeAdapter(VerifyConfig)
SECRET = "options-secret"
NOW = 1_700_000_000
DAY = 86_400
TRIGGER = {"id": "t" * 24, "name": "opts", "tenant": "acme"}


def verify(config: dict[str, Any], headers: list[tuple[str, str]], body: bytes, url: str, now: float = NOW) -> Verdict:
    verifier = ADAPTER.validate_python(config).build()
    query = MultiDictProxy(MultiDict())
    verdict: Verdict = verifier.verify(WebhookRequest("POST", url, CIMultiDict(headers), body, query, now=now))
    return verdict


def b64mac(message: bytes, algo: str = "sha256") -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), message, algo).digest()).decode()


def load_verify(verify_section: dict[str, Any], env: dict[str, str] | None = None) -> TriggerConfig:
    data = {"triggers": [{**TRIGGER, "verify": verify_section}]}
    return load_model(GatewayConfig, data, "gw.yaml", env=env or {}).triggers[0]


# --- signed_url ---------------------------------------------------------------------------------

SQUARE_BODY = b'{"type":"payment.created","event_id":"e-1","data":{"id":"p-1"}}'
REGISTERED = "https://public.example.com/webhooks/square"
BEHIND_INGRESS = "http://10.0.0.7:8080/hooks/abc"  # the URL the gateway reconstructs behind a rewriting ingress


def square_sig(url: str) -> list[tuple[str, str]]:
    return [("x-square-hmacsha256-signature", b64mac(url.encode() + SQUARE_BODY))]


def test_square_takes_the_shared_signed_url_option() -> None:
    config = {"type": "square", "secrets": [SECRET], "signed_url": REGISTERED}
    assert verify(config, square_sig(REGISTERED), SQUARE_BODY, BEHIND_INGRESS).ok


def test_square_keeps_notification_url_as_an_alias() -> None:
    config = {"type": "square", "secrets": [SECRET], "notification_url": REGISTERED}
    assert verify(config, square_sig(REGISTERED), SQUARE_BODY, BEHIND_INGRESS).ok
    with pytest.raises(ValidationError, match="signed_url"):
        ADAPTER.validate_python({**config, "signed_url": REGISTERED})


def test_square_without_signed_url_falls_back_to_the_request_url() -> None:
    config = {"type": "square", "secrets": [SECRET]}
    assert verify(config, square_sig(BEHIND_INGRESS), SQUARE_BODY, BEHIND_INGRESS).ok
    assert verify(config, square_sig(REGISTERED), SQUARE_BODY, BEHIND_INGRESS).reason == "bad_signature"


def test_generic_hmac_signs_the_configured_url_with_the_request_query() -> None:
    config = {
        "type": "hmac",
        "secrets": [SECRET],
        "header": "X-Sig",
        "encoding": "base64",
        "template": "{url}|{body}",
        "signed_url": "https://public.example.com/in/acme",
    }
    body = b"{}"
    sig = [("X-Sig", b64mac(b"https://public.example.com/in/acme?tenant=7|" + body))]
    assert verify(config, sig, body, "http://10.0.0.7:8080/hooks/abc?tenant=7").ok
    without = {k: v for k, v in config.items() if k != "signed_url"}
    assert verify(without, sig, body, "http://10.0.0.7:8080/hooks/abc?tenant=7").reason == "bad_signature"


def test_signed_url_needs_a_template_that_signs_the_url() -> None:
    config = {"type": "hmac", "secrets": [SECRET], "header": "X-Sig", "signed_url": "https://public.example.com/x"}
    with pytest.raises(ValidationError, match=r"\{url\}"):
        ADAPTER.validate_python(config)


@pytest.mark.parametrize("url", ["public.example.com/x", "ftp://public.example.com/x", "https:///x", "https://h/x#f"])
def test_signed_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.verify\.signed_url: .*http"):
        load_verify({"type": "twilio", "secrets": [SECRET], "signed_url": url})


# --- tolerance_seconds --------------------------------------------------------------------------


def stripe_request(ts: int) -> tuple[list[tuple[str, str]], bytes]:
    body = b'{"id":"evt_1","type":"invoice.paid"}'
    sig = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, "sha256").hexdigest()
    return [("Stripe-Signature", f"t={ts},v1={sig}")], body


def test_null_tolerance_switches_the_replay_window_off() -> None:
    headers, body = stripe_request(NOW - 30 * DAY)
    config = {"type": "stripe", "secrets": [SECRET]}
    assert verify(config, headers, body, "https://h/hooks/x").reason == "stale_timestamp"
    assert verify({**config, "tolerance_seconds": None}, headers, body, "https://h/hooks/x").ok


def test_null_tolerance_still_needs_a_signed_timestamp() -> None:
    headers, body = stripe_request(NOW)
    header = headers[0][1].replace(f"t={NOW},", "")
    verdict = verify(
        {"type": "stripe", "secrets": [SECRET], "tolerance_seconds": None},
        [("Stripe-Signature", header)],
        body,
        "https://h/hooks/x",
    )
    assert verdict.reason == "missing_timestamp"


def test_the_window_may_be_a_day_at_most() -> None:
    headers, body = stripe_request(NOW - DAY)
    assert verify({"type": "stripe", "secrets": [SECRET], "tolerance_seconds": DAY}, headers, body, "https://h/").ok
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.verify\.tolerance_seconds: .*86400.*null"):
        load_verify({"type": "stripe", "secrets": [SECRET], "tolerance_seconds": DAY + 1})


@pytest.mark.parametrize("value", [0, -5, DAY + 1])
def test_out_of_range_tolerances_are_refused_naming_the_key(value: int) -> None:
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.verify\.tolerance_seconds: .*1 to 86400 seconds, or null"):
        load_verify({"type": "paddle", "secrets": [SECRET], "tolerance_seconds": value})


# --- spelling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("standard-webhooks", "standard_webhooks"),
        ("standard_webhooks", "standard_webhooks"),
        ("header-token", "header_token"),
    ],
)
def test_preset_names_are_accepted_with_either_separator(written: str, canonical: str) -> None:
    section: dict[str, Any] = {"type": written}
    if canonical == "standard_webhooks":
        section["secrets"] = ["whsec_" + base64.b64encode(b"k" * 24).decode()]
    else:
        section.update(header="X-Token", tokens=[SECRET])
    assert load_verify(section).verify.type == canonical


def test_unknown_preset_errors_list_the_canonical_names() -> None:
    with pytest.raises(ConfigError) as err:
        load_verify({"type": "standardwebhooks"})
    assert "'standard_webhooks'" in str(err.value)
    assert "standard-webhooks" not in str(err.value)


# --- public keys are secrets --------------------------------------------------------------------

ED_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"options").digest())
ED_PUBLIC = ED_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def discord_request() -> tuple[list[tuple[str, str]], bytes]:
    body = b'{"type":2,"id":"i-1"}'
    return [
        ("X-Signature-Timestamp", str(NOW)),
        ("X-Signature-Ed25519", ED_KEY.sign(str(NOW).encode() + body).hex()),
    ], body


@pytest.mark.parametrize("how", ["file", "env"])
def test_discord_public_keys_accept_file_and_env_references(tmp_path: Path, how: str) -> None:
    (tmp_path / "discord.pub").write_text(ED_PUBLIC.hex() + "\n")
    ref = f"file:{tmp_path}/discord.pub" if how == "file" else "${DISCORD_PUBLIC_KEY}"
    trigger = load_verify({"type": "discord", "public_keys": [ref]}, env={"DISCORD_PUBLIC_KEY": ED_PUBLIC.hex()})
    headers, body = discord_request()
    verdict = trigger.verify.build().verify(WebhookRequest("POST", "https://h/", CIMultiDict(headers), body, now=NOW))
    assert verdict.ok, verdict.reason


def test_standard_webhooks_public_keys_accept_file_references(tmp_path: Path) -> None:
    (tmp_path / "whpk").write_text("whpk_" + base64.b64encode(ED_PUBLIC).decode() + "\n")
    trigger = load_verify({"type": "standard_webhooks", "public_keys": [f"file:{tmp_path}/whpk"]})
    content = f"msg_1.{NOW}.".encode() + b"{}"
    headers = CIMultiDict(
        [
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", str(NOW)),
            ("webhook-signature", "v1a," + base64.b64encode(ED_KEY.sign(content)).decode()),
        ]
    )
    assert trigger.verify.build().verify(WebhookRequest("POST", "https://h/", headers, b"{}", now=NOW)).ok


def test_sendgrid_public_keys_accept_file_references_and_bad_ones_name_their_index(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(12345, ec.SECP256R1()).public_key()
    der = base64.b64encode(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    (tmp_path / "sg.pub").write_text(der + "\n")
    load_verify({"type": "sendgrid", "public_keys": [f"file:{tmp_path}/sg.pub"]})
    with pytest.raises(ConfigError, match=r"triggers\[0\]\.verify\.public_keys\[1\]: .*public key"):
        load_verify({"type": "sendgrid", "public_keys": [f"file:{tmp_path}/sg.pub", "bm90IGEga2V5"]})
