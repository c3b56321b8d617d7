"""GitLab: ``X-Gitlab-Token`` equals the webhook's secret token (compared in constant time).

The delivery id is ``Idempotency-Key`` (stable across retries; ``X-Gitlab-Event-UUID`` on older
GitLab versions) and the event name ``X-Gitlab-Event`` (``Push Hook`` -> ``com.gitlab.push_hook``).
https://docs.gitlab.com/user/project/integrations/webhooks/
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
    any_matches,
    header_once,
    optional_header,
    reject,
    secrets_bytes,
)
from hookgate.gateway.verify.eventtype import ce_type


class GitLabConfig(PresetConfig):
    type: Literal["gitlab"]
    tokens: list[Secret] = Field(min_length=1)

    def build(self) -> Verifier:
        return GitLabVerifier(self)


class GitLabVerifier(CheckedVerifier):
    def __init__(self, config: GitLabConfig) -> None:
        self._tokens = secrets_bytes(config.tokens)

    def check(self, request: WebhookRequest) -> Verdict:
        h = request.headers
        token = header_once(h, "X-Gitlab-Token", missing="missing_token", duplicate="duplicate_token")
        if not any_matches(token.encode(), self._tokens):
            reject("bad_token")
        return Verdict(
            ok=True,
            delivery_id=optional_header(h, "Idempotency-Key") or optional_header(h, "X-Gitlab-Event-UUID"),
            event_type=ce_type("gitlab", optional_header(h, "X-Gitlab-Event")),
        )
