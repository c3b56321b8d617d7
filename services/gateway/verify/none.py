"""No signature check: for senders that cannot sign (forms, monitors) behind another control,
such as an IP allowlist or a token; the trigger's unguessable URL is then the only secret."""

from __future__ import annotations

from typing import Literal

from hookgate.gateway.verify.base import PresetConfig, Verdict, Verifier, WebhookRequest


class NoneConfig(PresetConfig):
    type: Literal["none"]

    def build(self) -> Verifier:
        return NoVerifier(self)

    def header_names(self) -> frozenset[str]:
        return frozenset()


class NoVerifier:
    def __init__(self, config: NoneConfig) -> None:
        del config

    def verify(self, request: WebhookRequest) -> Verdict:
        del request
        return Verdict(ok=True)
