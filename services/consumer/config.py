"""The consumer's configuration file: group, topics, and the workflows it runs."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from hookgate.consumer.subscriptions import WorkflowConfig
from hookgate.core.config import StrictModel
from hookgate.core.settings import KafkaSettings


class ListenSettings(StrictModel):
    host: str = "0.0.0.0"
    port: int = Field(default=8081, ge=0, le=65535)


class ConsumerSettings(StrictModel):
    group_id: str = "hookgate-workflows"
    topics: list[str] = Field(default_factory=list)
    topic_pattern: str | None = Field(default=None, description="Regex over topic names, e.g. ^hookgate\\.")
    listen: ListenSettings = Field(default_factory=ListenSettings)
    log_level: str = "info"
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)

    @field_validator("topic_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _source(self) -> Self:
        if bool(self.topics) == bool(self.topic_pattern):
            raise ValueError("set exactly one of topics or topic_pattern")
        return self


class ConsumerConfig(StrictModel):
    consumer: ConsumerSettings
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    workflows: list[WorkflowConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for i, w in enumerate(self.workflows):
            if w.name in seen:
                raise ValueError(f"workflows[{i}].name: duplicate workflow name")
            seen.add(w.name)
        return self
