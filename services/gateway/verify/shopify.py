"""Shopify: ``X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>`` keyed by the app's client secret.

The delivery id is ``X-Shopify-Webhook-Id``, the event ``X-Shopify-Topic`` (``orders/create`` ->
``com.shopify.orders.create``) and the subject the shop (``X-Shopify-Shop-Domain``).
https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    decode_b64,
    header_once,
    hmac_digests,
    optional_header,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type


class ShopifyConfig(PresetConfig):
    type: Literal["shopify"]
    secrets: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return ShopifyVerifier(self)


class ShopifyVerifier(CheckedVerifier):
    def __init__(self, config: ShopifyConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = decode_b64(header_once(h, "X-Shopify-Hmac-Sha256"))
        require_match([sig], hmac_digests(self._secrets, request.body))
        return Verdict(
            ok=True,
            delivery_id=optional_header(h, "X-Shopify-Webhook-Id"),
            event_type=ce_type("shopify", optional_header(h, "X-Shopify-Topic")),
            subject=optional_header(h, "X-Shopify-Shop-Domain"),
        )
