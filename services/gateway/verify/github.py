"""GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

The legacy ``X-Hub-Signature`` (SHA-1) is accepted only when ``allow_sha1`` is set. The delivery id
is ``X-GitHub-Delivery`` and the event name ``X-GitHub-Event``.
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    any_matches,
    header_once,
    reject,
    secrets_bytes,
)


class GitHubConfig(PresetConfig):
    type: Literal["github"]
    secrets: list[Secret] = Field(min_length=1)
    allow_sha1: bool = False

    def build(self) -> Verifier:
        return GitHubVerifier(self)


class GitHubVerifier(CheckedVerifier):
    def __init__(self, config: GitHubConfig) -> None:
        self._secrets = secrets_bytes(config.secrets)
        self._allow_sha1 = config.allow_sha1

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        if self._allow_sha1 and "X-Hub-Signature-256" not in h and "X-Hub-Signature" in h:
            sig = header_once(h, "X-Hub-Signature")
            prefix, algo = "sha1=", hashlib.sha1
        else:
            sig = header_once(h, "X-Hub-Signature-256")
            prefix, algo = "sha256=", hashlib.sha256
        if not sig.startswith(prefix):
            reject("malformed_signature")
        given = sig[len(prefix) :].strip().lower().encode()
        expected = [hmac.new(s, request.body, algo).hexdigest().encode() for s in self._secrets]
        if not any_matches(given, expected):
            reject("bad_signature")
        event = h.get("X-GitHub-Event")
        return Verdict(
            ok=True,
            delivery_id=h.get("X-GitHub-Delivery"),
            event_type=f"com.github.{event}" if event else None,
        )
