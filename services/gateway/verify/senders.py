"""Senders that are data: an HMAC scheme (:mod:`.hmac_scheme`) plus where they name their delivery id,
type and subject (:class:`~hookgate.gateway.verify.payload.EventFields`), or a hook for what a row
cannot say (handshakes, Slack's several body kinds: :mod:`.slack`, :mod:`.zoom`, :mod:`.twitch`).

A new sender whose signature is an HMAC of some of ``{body}``, ``{timestamp}``, ``{id}``,
``{method}``, ``{url}`` is one row in :data:`SENDERS` and its name in the ``type`` literal of the
config model with its options (shared secrets; a replay window where it signs a timestamp).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from hookgate.gateway.verify import slack, twitch, zoom
from hookgate.gateway.verify.base import CheckedVerifier, Verdict, Verifier, WebhookRequest, header_set
from hookgate.gateway.verify.hmac_scheme import Describe, HmacScheme, HmacVerifier, SignatureList, Timestamp
from hookgate.gateway.verify.options import SecretsPreset, SignedUrl, TimestampedPreset, UrlSigningPreset
from hookgate.gateway.verify.payload import EventFields, body, header


def v0(signature_header: str, timestamp_header: str) -> HmacScheme:
    """The ``v0`` scheme Slack introduced and Zoom reuses: ``v0=<hex HMAC-SHA256 of "v0:{ts}:{body}">``."""
    return HmacScheme(signature_header, "v0:{timestamp}:{body}", "v0=", timestamp=Timestamp(header=timestamp_header))


def timestamped_list(name: str, separator: str, timestamp_key: str, signature_key: str, joint: str) -> HmacScheme:
    """The scheme Stripe and Paddle share: ``t=<unix>,v1=<hex>[,v1=...]`` in header ``name``, each signature
    the hex HMAC-SHA256 of ``{timestamp}<joint>{body}``. They differ in the names, separator and joint."""
    return HmacScheme(
        name,
        f"{{timestamp}}{joint}{{body}}",
        signature_list=SignatureList(separator, signature_key),
        timestamp=Timestamp(pair=timestamp_key),
    )


@dataclass(frozen=True, slots=True)
class Sender:
    """A sender as data: its scheme, what it names, and its default replay window if it signs a timestamp."""

    scheme: HmacScheme
    describe: Describe
    tolerance: int | None = None
    reads: tuple[str, ...] = ()  # headers a ``describe`` function reads (an EventFields row says its own)

    @property
    def headers(self) -> frozenset[str]:
        """Every header the row's verifier reads: its scheme's, then what ``describe`` reads (lower case)."""
        described = self.describe.headers if isinstance(self.describe, EventFields) else frozenset()
        return self.scheme.headers | described | header_set(*self.reads)


GITHUB = EventFields("github", (header("X-GitHub-Delivery"),), (header("X-GitHub-Event"),))

SENDERS: dict[str, Sender] = {
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    "github": Sender(HmacScheme("X-Hub-Signature-256", prefix="sha256="), GITHUB),
    # https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
    "bitbucket": Sender(
        HmacScheme("X-Hub-Signature", prefix="sha256="),
        EventFields("bitbucket", (header("X-Request-UUID"),), (header("X-Event-Key"),)),
    ),
    # https://shopify.dev/docs/apps/build/webhooks/subscribe/https
    "shopify": Sender(
        HmacScheme("X-Shopify-Hmac-Sha256", encoding="base64"),
        EventFields(
            "shopify", (header("X-Shopify-Webhook-Id"),), (header("X-Shopify-Topic"),), header("X-Shopify-Shop-Domain")
        ),
    ),
    # https://developer.pagerduty.com/docs/webhooks/webhook-signatures/
    "pagerduty": Sender(
        HmacScheme("X-PagerDuty-Signature", signature_list=SignatureList(",", "v1")),
        EventFields("pagerduty", (body("event", "id"),), (body("event", "event_type"),), body("event", "data", "id")),
    ),
    # https://developer.squareup.com/docs/webhooks/step3validate
    "square": Sender(
        HmacScheme("x-square-hmacsha256-signature", "{url}{body}", encoding="base64"),
        EventFields("square", (body("event_id"),), (body("type"),), body("data", "id")),
    ),
    # https://docs.stripe.com/webhooks#verify-manually
    "stripe": Sender(
        timestamped_list("Stripe-Signature", ",", "t", "v1", "."),
        EventFields("stripe", (body("id"),), (body("type"),), body("data", "object", "id")),
        tolerance=300,
    ),
    # https://developer.paddle.com/webhooks/signature-verification
    "paddle": Sender(
        timestamped_list("Paddle-Signature", ";", "ts", "h1", ":"),
        EventFields("paddle", (body("event_id"),), (body("event_type"),), body("data", "id")),
        tolerance=5,
    ),
    # https://linear.app/developers/webhooks#securing-webhooks
    "linear": Sender(
        HmacScheme("Linear-Signature", timestamp=Timestamp(body_field=("webhookTimestamp",), format="unix_ms")),
        EventFields("linear", (header("Linear-Delivery"),), (body("type"), body("action")), body("data", "id")),
        tolerance=60,
    ),
    # https://api.slack.com/authentication/verifying-requests-from-slack
    "slack": Sender(v0("X-Slack-Signature", "X-Slack-Request-Timestamp"), slack.describe, tolerance=300),
    # https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
    "zoom": Sender(v0("x-zm-signature", "x-zm-request-timestamp"), zoom.describe, tolerance=300),
    # https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
    "twitch": Sender(
        HmacScheme(
            "Twitch-Eventsub-Message-Signature",
            "{id}{timestamp}{body}",
            "sha256=",
            timestamp=Timestamp(header="Twitch-Eventsub-Message-Timestamp", format="rfc3339"),
            id_header="Twitch-Eventsub-Message-Id",
        ),
        twitch.describe,
        tolerance=600,
        reads=twitch.HEADERS,
    ),
}
"""Every sender that is a row, by its preset name."""

GITHUB_SHA1 = HmacScheme("X-Hub-Signature", prefix="sha1=", algorithm="sha1")
"""GitHub's legacy signature, accepted only with ``allow_sha1``."""


class SecretsConfig(SecretsPreset):
    """The rows that sign neither a timestamp nor a URL: their only option is ``secrets``."""

    type: Literal["bitbucket", "shopify", "pagerduty"]

    def build(self) -> Verifier:
        row = SENDERS[self.type]
        return HmacVerifier(row.scheme, self.secrets, None, row.describe)

    def header_names(self) -> frozenset[str]:
        return SENDERS[self.type].headers


class TimestampedSecretsConfig(SecretsPreset, TimestampedPreset):
    """The rows that sign a timestamp: ``secrets`` and ``tolerance_seconds`` (default: the sender's advice)."""

    type: Literal["stripe", "paddle", "linear", "slack", "zoom", "twitch"]

    @model_validator(mode="before")
    @classmethod
    def _sender_default_window(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tolerance_seconds" not in data and data.get("type") in SENDERS:
            return {**data, "tolerance_seconds": SENDERS[data["type"]].tolerance}
        return data

    def build(self) -> Verifier:
        row = SENDERS[self.type]
        return HmacVerifier(row.scheme, self.secrets, self.tolerance_seconds, row.describe)

    def header_names(self) -> frozenset[str]:
        return SENDERS[self.type].headers


class SquareConfig(SecretsPreset, UrlSigningPreset):
    """Square signs the notification URL: ``signed_url``, or ``notification_url`` as it was first called."""

    type: Literal["square"]
    signed_url: SignedUrl | None = Field(default=None, validation_alias=AliasChoices("signed_url", "notification_url"))

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and "signed_url" in data and "notification_url" in data:
            raise ValueError("notification_url is another name for signed_url: give one of them")
        return data

    def build(self) -> Verifier:
        row = SENDERS["square"]
        return HmacVerifier(row.scheme, self.secrets, None, row.describe, self.signed_url)

    def header_names(self) -> frozenset[str]:
        return SENDERS["square"].headers


class GitHubConfig(SecretsPreset):
    """GitHub: ``secrets``, and ``allow_sha1`` for the legacy ``X-Hub-Signature`` (SHA-1)."""

    type: Literal["github"]
    allow_sha1: bool = False

    def build(self) -> Verifier:
        sha256 = HmacVerifier(SENDERS["github"].scheme, self.secrets, None, GITHUB)
        if not self.allow_sha1:
            return sha256
        return _LegacyFallback(sha256, HmacVerifier(GITHUB_SHA1, self.secrets, None, GITHUB), GITHUB_SHA1.header)

    def header_names(self) -> frozenset[str]:
        # The legacy X-Hub-Signature is read only with allow_sha1, yet redacted either way: it is a signature.
        return SENDERS["github"].headers | GITHUB_SHA1.headers


class _LegacyFallback(CheckedVerifier):
    """The current scheme, or the legacy one for a request that carries only the legacy header."""

    def __init__(self, current: HmacVerifier, legacy: HmacVerifier, legacy_header: str) -> None:
        self._current = current
        self._legacy = legacy
        self._legacy_header = legacy_header

    def check(self, request: WebhookRequest) -> Verdict:
        only_legacy = self._legacy_header in request.headers and SENDERS["github"].scheme.header not in request.headers
        return (self._legacy if only_legacy else self._current).check(request)
