"""Workflow subscriptions declared in YAML: their config models and the workflows built from them."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import AnyHttpUrl, Field, field_validator

from hookgate.consumer.actions.http import run_http
from hookgate.consumer.workflows import ActionResult
from hookgate.core.config import Secret, StrictModel
from hookgate.core.envelope import Envelope

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class Match(StrictModel):
    """Which events a workflow wants. Empty fields match anything; ``type`` may end in ``*`` (prefix)."""

    tenant: str | None = None
    type: str | None = None

    def matches(self, event: Envelope) -> bool:
        if self.tenant is not None and self.tenant != event.tenant:
            return False
        if self.type is not None:
            if self.type.endswith("*"):
                return event.type.startswith(self.type[:-1])
            return event.type == self.type
        return True


class HttpAction(StrictModel):
    type: Literal["http"] = "http"
    url: AnyHttpUrl
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, Secret] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)


class WorkflowConfig(StrictModel):
    name: str
    match: Match = Field(default_factory=Match)
    action: HttpAction
    ordered: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("expected lower-case letters, digits, '.', '-' or '_' (1-63)")
        return v


class HttpWorkflow:
    """A YAML workflow whose action is an HTTP request."""

    def __init__(self, config: WorkflowConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self._session = session
        parts = urlsplit(str(config.action.url))
        self._target = f"{parts.scheme}://{parts.netloc}"

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def ordered(self) -> bool:
        return self.config.ordered

    @property
    def target(self) -> str:
        return self._target

    def matches(self, event: Envelope) -> bool:
        return self.config.match.matches(event)

    async def run(self, event: Envelope) -> ActionResult:
        return await run_http(self._session, self.name, self.config.action, event)


def build_workflows(configs: list[WorkflowConfig], session: aiohttp.ClientSession) -> list[HttpWorkflow]:
    return [HttpWorkflow(c, session) for c in configs]
