"""Token presets: the sender presents a credential as it is (no signature), equal to a configured one.

``bearer`` (``Authorization: Bearer <token>``), ``basic`` (``Authorization: Basic base64(user:password)``),
``header_token`` (a named header), ``query_token`` (a query parameter) and ``gitlab`` (``X-Gitlab-Token``)
differ only in where the credential travels and how it is wrapped: a :class:`TokenPlace` says which.
Several values may be active (rotation, or one per sender); every comparison is constant-time over all
of them. Only GitLab names a delivery id and type; the others check no body and name nothing.
https://docs.gitlab.com/user/project/integrations/webhooks/
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from hookgate.core.config import Secret, StrictModel
from hookgate.gateway.verify.base import (
    CheckedVerifier,
    PresetConfig,
    Verdict,
    Verifier,
    WebhookRequest,
    any_matches,
    decode_b64,
    header_once,
    header_set,
    reject,
    secrets_bytes,
    wire,
)
from hookgate.gateway.verify.payload import EventFields, header


@dataclass(frozen=True, slots=True)
class TokenPlace:
    """Where a credential travels: a header (optionally after an ``Authorization`` scheme word) or a query parameter."""

    header: str | None = None
    param: str | None = None
    auth_scheme: Literal["bearer", "basic"] | None = None


def presented(place: TokenPlace, request: WebhookRequest) -> bytes:
    """The credential as presented (``user:password`` for Basic), or :func:`reject` with why not."""
    if place.param is not None:
        values = request.query.getall(place.param, [])
        if not values:
            reject("missing_token")
        if len(values) > 1:
            reject("duplicate_token")
        return wire(values[0])
    value = header_once(request.headers, place.header or "", "missing_token", "duplicate_token").strip()
    if place.auth_scheme is None:
        return wire(value)
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != place.auth_scheme or not token:
        reject("malformed_token")
    if place.auth_scheme == "bearer":
        return wire(token)
    pair = decode_b64(token, "malformed_token")
    if b":" not in pair:
        reject("malformed_token")
    return pair


class TokenVerifier(CheckedVerifier):
    """A presented credential equals one of the configured values."""

    def __init__(
        self, place: TokenPlace, values: list[bytes], describe: Callable[[WebhookRequest], Verdict] | None = None
    ) -> None:
        self._place = place
        self._values = values
        self._describe = describe

    def verify_head(self, request: WebhookRequest) -> Verdict | None:
        """The credential travels in the head: the verdict is known before the body is read."""
        return self.verify(request)

    def check(self, request: WebhookRequest) -> Verdict:
        if not any_matches(presented(self._place, request), self._values):
            reject("bad_token")
        return self._describe(request) if self._describe is not None else Verdict(ok=True)


class TokensPreset(PresetConfig):
    tokens: list[Secret] = Field(min_length=1)


class BearerConfig(TokensPreset):
    type: Literal["bearer"]

    def build(self) -> Verifier:
        return TokenVerifier(TokenPlace("Authorization", auth_scheme="bearer"), secrets_bytes(self.tokens))

    def header_names(self) -> frozenset[str]:
        return header_set("Authorization")


class HeaderTokenConfig(TokensPreset):
    """For senders that can add a fixed header (``X-Webhook-Token: ...``) but cannot sign."""

    type: Literal["header_token"]
    header: str = Field(min_length=1)

    def build(self) -> Verifier:
        return TokenVerifier(TokenPlace(self.header), secrets_bytes(self.tokens))

    def header_names(self) -> frozenset[str]:
        return header_set(self.header)


class QueryTokenConfig(TokensPreset):
    """For senders that can only be given a URL. The token then travels in the URL, which proxies and
    senders may log: prefer a header token or a signature when the sender allows it."""

    type: Literal["query_token"]
    param: str = Field(default="token", min_length=1)

    def build(self) -> Verifier:
        return TokenVerifier(TokenPlace(param=self.param), secrets_bytes(self.tokens))

    def header_names(self) -> frozenset[str]:
        return frozenset()  # the token is a query parameter, and the audit record never holds the query


GITLAB = EventFields("gitlab", (header("Idempotency-Key"), header("X-Gitlab-Event-UUID")), (header("X-Gitlab-Event"),))
"""GitLab's delivery id (``Idempotency-Key``, stable across retries; ``X-Gitlab-Event-UUID`` on older
versions) and event (``Push Hook`` -> ``com.gitlab.push_hook``)."""


class GitLabConfig(TokensPreset):
    """GitLab sends the webhook's secret token itself in ``X-Gitlab-Token``."""

    type: Literal["gitlab"]

    def build(self) -> Verifier:
        return TokenVerifier(TokenPlace("X-Gitlab-Token"), secrets_bytes(self.tokens), GITLAB)

    def header_names(self) -> frozenset[str]:
        return header_set("X-Gitlab-Token") | GITLAB.headers


class BasicCredential(StrictModel):
    username: str = Field(min_length=1)
    password: Secret


class BasicConfig(PresetConfig):
    type: Literal["basic"]
    credentials: list[BasicCredential] = Field(min_length=1)

    def build(self) -> Verifier:
        pairs = [f"{c.username}:{c.password.get_secret_value()}".encode() for c in self.credentials]
        return TokenVerifier(TokenPlace("Authorization", auth_scheme="basic"), pairs)

    def header_names(self) -> frozenset[str]:
        return header_set("Authorization")
