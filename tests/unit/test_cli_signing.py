"""``hookgate send``'s signing helpers: senders' published vectors, their official SDKs, and the gateway."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
from multidict import CIMultiDict
from pydantic import TypeAdapter

from hookgate.cli.signing import PRESET_NAMES, HmacSpec, SignRequest, sign, whsec_key
from hookgate.gateway.verify.base import WebhookRequest
from hookgate.gateway.verify.registry import VerifyConfig

NOW = int(time.time())


@pytest.fixture(autouse=True)
def _fresh_now(monkeypatch: pytest.MonkeyPatch) -> None:
    # The senders' SDKs check the timestamp against their own clock (5 minutes for most): a value taken at
    # import would be stale when the suite takes longer than that before reaching these tests.
    monkeypatch.setattr(sys.modules[__name__], "NOW", int(time.time()))


WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def req(body: bytes = b'{"id":"evt_1","type":"invoice.paid"}', secret: str = "s3cret", **kw: Any) -> SignRequest:
    return SignRequest(body=body, secret=secret, delivery_id=kw.pop("delivery_id", "d-1"), timestamp=NOW, **kw)


def test_github_documented_vector() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    headers = sign("github", req(b"Hello, World!", "It's a Secret to Everybody"))
    assert headers["X-Hub-Signature-256"] == ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    assert headers["X-GitHub-Delivery"] == "d-1"


def test_slack_documented_vector() -> None:
    # https://api.slack.com/authentication/verifying-requests-from-slack
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signed = SignRequest(body=body, secret="8f742231b10e8888abcd99yyyzzz85a5", delivery_id="x", timestamp=1531420618)
    assert sign("slack", signed) == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }


def test_standard_webhooks_spec_vector() -> None:
    # The Standard Webhooks reference libraries' test vector.
    signed = SignRequest(
        body=b'{"test": 2432232314}', secret=WHSEC, delivery_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330
    )
    headers = sign("standard_webhooks", signed)
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign("svix", signed)["svix-signature"] == headers["webhook-signature"]


def test_stripe_sdk_accepts() -> None:
    import stripe

    r = req()
    header = sign("stripe", r)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(r.body.decode(), header, r.secret, tolerance=300)


def test_stripe_sdk_rejects_other_secret() -> None:
    import stripe

    r = req()
    header = sign("stripe", r)["Stripe-Signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(r.body.decode(), header, "other", tolerance=300)


def test_slack_sdk_accepts() -> None:
    from slack_sdk.signature import SignatureVerifier

    r = req()
    h = sign("slack", r)
    verifier = SignatureVerifier(r.secret)
    assert verifier.is_valid(r.body, h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"])


def test_standardwebhooks_and_svix_sdks_accept() -> None:
    from standardwebhooks.webhooks import Webhook as StandardWebhook
    from svix.webhooks import Webhook as SvixWebhook

    r = req(secret=WHSEC, delivery_id="msg_1")
    StandardWebhook(WHSEC).verify(r.body, sign("standard_webhooks", r))
    SvixWebhook(WHSEC).verify(r.body, sign("svix", r))


def test_generic_hmac_template_encoding_and_headers() -> None:
    spec = HmacSpec(
        header="X-Sig",
        algorithm="sha512",
        encoding="base64",
        prefix="v1=",
        template="{timestamp}.{id}.{body}",
        timestamp_header="X-Ts",
        id_header="X-Id",
    )
    headers = sign("hmac", req(b"abc"), spec)
    assert headers["X-Sig"].startswith("v1=")
    assert headers["X-Ts"] == str(NOW)
    assert headers["X-Id"] == "d-1"


def test_generic_hmac_unknown_placeholder() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        sign("hmac", req(), HmacSpec(template="{nonce}.{body}"))


def test_unknown_preset_and_bad_whsec() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        sign("acme", req())
    with pytest.raises(ValueError, match="whsec_"):
        whsec_key("whsec_***not base64***")


# What the gateway itself accepts: every preset `send` knows against the gateway's verifier for it.
GATEWAY_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "github": ({"type": "github", "secrets": ["s3cret"]}, "s3cret"),
    "stripe": ({"type": "stripe", "secrets": ["s3cret"]}, "s3cret"),
    "slack": ({"type": "slack", "secrets": ["s3cret"]}, "s3cret"),
    "standard_webhooks": ({"type": "standard_webhooks", "secrets": [WHSEC]}, WHSEC),
    "svix": ({"type": "svix", "secrets": [WHSEC]}, WHSEC),
    "shopify": ({"type": "shopify", "secrets": ["s3cret"]}, "s3cret"),
    "gitlab": ({"type": "gitlab", "tokens": ["s3cret"]}, "s3cret"),
}


@pytest.mark.parametrize("preset", sorted(GATEWAY_CONFIGS))
def test_gateway_verifier_accepts_what_send_signs(preset: str) -> None:
    config, secret = GATEWAY_CONFIGS[preset]
    verifier = TypeAdapter(VerifyConfig).validate_python(config).build()
    r = req(secret=secret)
    headers = CIMultiDict({"Content-Type": "application/json", **sign(preset, r)})
    request = WebhookRequest(method="POST", url="http://gw/hooks/x", headers=headers, body=r.body, now=NOW)
    verdict = verifier.verify(request)
    assert verdict.ok, verdict.reason
    tampered = WebhookRequest(method="POST", url="http://gw/hooks/x", headers=headers, body=r.body + b" ", now=NOW)
    if preset != "gitlab":  # GitLab sends a token, not a signature over the body
        assert not verifier.verify(tampered).ok


def test_gateway_generic_hmac_accepts_what_send_signs() -> None:
    config = {
        "type": "hmac",
        "secrets": ["s3cret"],
        "header": "X-Sig",
        "algorithm": "sha1",
        "encoding": "base64",
        "prefix": "sha1=",
        "template": "{timestamp}:{body}",
        "timestamp_header": "X-Ts",
    }
    spec = HmacSpec(
        header="X-Sig", algorithm="sha1", encoding="base64", prefix="sha1=", template="{timestamp}:{body}",
        timestamp_header="X-Ts",
    )  # fmt: skip
    verifier = TypeAdapter(VerifyConfig).validate_python(config).build()
    r = req()
    headers = CIMultiDict(sign("hmac", r, spec))
    assert verifier.verify(WebhookRequest(method="POST", url="http://gw/", headers=headers, body=r.body, now=NOW)).ok


def test_every_preset_is_listed() -> None:
    assert set(PRESET_NAMES) == {*GATEWAY_CONFIGS, "hmac", "none"}


def test_preset_names_are_snake_case_and_the_dashed_spelling_is_accepted_too() -> None:
    assert "standard_webhooks" in PRESET_NAMES
    assert all("-" not in name for name in PRESET_NAMES)
    signed = SignRequest(body=b"{}", secret=WHSEC, delivery_id="msg_1", timestamp=NOW)
    assert sign("standard-webhooks", signed) == sign("standard_webhooks", signed)
    with pytest.raises(ValueError, match="standard_webhooks") as err:
        sign("acme", signed)
    assert "standard-webhooks" not in str(err.value)
