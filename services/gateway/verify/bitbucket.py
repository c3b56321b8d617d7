"""Bitbucket Cloud: ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

The delivery id is ``X-Request-UUID`` and the event ``X-Event-Key`` (``repo:push`` ->
``com.bitbucket.repo.push``).
https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
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
    decode_hex,
    header_once,
    hmac_digests,
    optional_header,
    reject,
    require_match,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type


class BitbucketConfig(PresetConfig):
    type: Literal["bitbucket"]
    secrets: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return BitbucketVerifier(self)


class BitbucketVerifier(CheckedVerifier):
    def __init__(self, config: BitbucketConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        sig = header_once(h, "X-Hub-Signature")
        if not sig.startswith("sha256="):
            reject("malformed_signature")
        require_match([decode_hex(sig[len("sha256=") :])], hmac_digests(self._secrets, request.body))
        return Verdict(
            ok=True,
            delivery_id=optional_header(h, "X-Request-UUID"),
            event_type=ce_type("bitbucket", optional_header(h, "X-Event-Key")),
        )
