"""Svix: the Standard Webhooks scheme under ``svix-id``, ``svix-timestamp`` and ``svix-signature``.

Senders on Svix that use the unbranded ``webhook-*`` names are accepted too. Options as
:mod:`~hookgate.gateway.verify.standard_webhooks`.
https://docs.svix.com/receiving/verifying-payloads/how-manual
"""

from __future__ import annotations

from typing import Literal

from hookgate.gateway.verify.base import Verifier
from hookgate.gateway.verify.standard_webhooks import StandardWebhooksConfig, StandardWebhooksVerifier, scheme_headers


class SvixConfig(StandardWebhooksConfig):
    type: Literal["svix"]  # type: ignore[assignment]

    def build(self) -> Verifier:
        return StandardWebhooksVerifier(self, header_prefixes=("svix-", "webhook-"))

    def header_names(self) -> frozenset[str]:
        return scheme_headers(("svix-", "webhook-"))
