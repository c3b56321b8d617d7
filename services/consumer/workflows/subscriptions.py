"""Workflow subscriptions declared in YAML: their config models and the workflows built from them.

::

    workflows:
      - name: deploy
        topics: ["hookgate.acme"]          # optional: record topics (globs); default every topic read
        tenants: [acme]                     # optional: the event's tenant
        match: {type: com.github.push, vars: {ref: refs/heads/main}}
        action: {type: http, url: "https://ci.internal/deploy?ref={vars.ref}"}
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Coroutine
from typing import Any

from pydantic import Field, field_validator

from hookgate.consumer.workflows.actions.client import HttpClients
from hookgate.consumer.workflows.actions.http import HttpAction, HttpRequest, run_http
from hookgate.consumer.workflows.event import event_of
from hookgate.consumer.workflows.match_config import MatchConfig
from hookgate.consumer.workflows.workflow import ActionResult
from hookgate.core.config import StrictModel
from hookgate.core.envelope import Envelope
from hookgate.core.predicates import AllOf, Attribute, Condition, Predicate

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")

__all__ = ["HttpAction", "HttpWorkflow", "MatchConfig", "WorkflowConfig", "build_workflows", "valid_name"]


def valid_name(name: str) -> str:
    """Workflow names label metrics and key dedupe records: short, lower-case, stable."""
    if not _NAME.match(name):
        raise ValueError("expected lower-case letters, digits, '.', '-' or '_' (1-63), starting with a letter/digit")
    return name


class WorkflowConfig(StrictModel):
    """One subscription: which records (topics, tenants, match) and what to do (action)."""

    name: str
    topics: list[str] = Field(default_factory=list, description="Record topics (glob patterns); empty = all")
    tenants: list[str] = Field(default_factory=list, description="Event tenants; empty = all")
    match: MatchConfig = Field(default_factory=MatchConfig)
    action: HttpAction
    ordered: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return valid_name(v)

    def predicate(self) -> Predicate:
        """The match, with ``tenants`` folded in (topics are a property of the record, not the event)."""
        match = self.match.predicate()
        if self.tenants:
            return AllOf((Attribute("tenant", Condition(one_of=tuple(self.tenants))), match))
        return match


class HttpWorkflow:
    """A YAML workflow whose action is an HTTP request; everything is compiled at construction."""

    sees_delivery = False  # its templates have no attempt or source position to read (workflow.sees_delivery)

    def __init__(self, config: WorkflowConfig, clients: HttpClients) -> None:
        self.config = config
        self._predicate = config.predicate()
        self._request = HttpRequest(config.action)
        self._client = clients.get(self._request.target)
        self.topics: tuple[str, ...] = tuple(config.topics)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def ordered(self) -> bool:
        return self.config.ordered

    @property
    def target(self) -> str:
        return self._request.target

    @property
    def predicate(self) -> Predicate:
        """The compiled match, ``tenants`` folded in (described at start-up: ``workflow_match``)."""
        return self._predicate

    def matches(self, event: Envelope) -> bool:
        return self._predicate.test(event_of(event))

    def reads_topic(self, topic: str) -> bool:
        return not self.topics or any(fnmatch.fnmatchcase(topic, t) for t in self.topics)

    def run(self, event: Envelope) -> Coroutine[Any, Any, ActionResult]:
        # run_http's own coroutine, handed back rather than awaited in one more: once per event.
        return run_http(self._client, self.config.name, self._request, event)


def build_workflows(configs: list[WorkflowConfig], clients: HttpClients) -> list[HttpWorkflow]:
    """The YAML workflows, their requests sent through ``clients`` (one keep-alive pool per target)."""
    return [HttpWorkflow(c, clients) for c in configs]
