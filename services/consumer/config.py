"""The consumer's configuration file: group, topics, and the workflows it runs."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hookgate.consumer.engine.start import GroupStart, parse_start
from hookgate.consumer.workflows.subscriptions import WorkflowConfig
from hookgate.core.config import Regex, StrictModel
from hookgate.core.settings import KafkaSettings
from hookgate.core.topics import (
    dead_letter_state_topic,
    dead_letter_topic,
    dedupe_topic,
    redrive_topic,
    source_pattern,
)


class ListenSettings(StrictModel):
    host: str = "0.0.0.0"
    port: int = Field(default=8081, ge=0, le=65535)


class RetrySettings(StrictModel):
    """Exponential backoff with jitter between attempts; ``Retry-After`` is honoured up to ``max_delay_seconds``."""

    attempts: int = Field(default=5, ge=1, le=100, description="Tries in all, the first included.")
    base_delay_seconds: float = Field(default=0.5, gt=0, le=3600)
    max_delay_seconds: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("max_delay_seconds must be at least base_delay_seconds")
        return self


class DedupeSettings(StrictModel):
    """The (workflow, event id) store that keeps an action from running twice; see docs/consumers.md."""

    enabled: bool = True
    retention_seconds: float = Field(default=7 * 24 * 3600, ge=60, description="Also the changelog's retention.ms.")
    max_entries: int = Field(default=100_000, ge=100, description="Per changelog partition; oldest evicted first.")
    topic: str | None = Field(default=None, description="Default {prefix}._dedupe.{group_id} (core/topics.py).")


class DeadLetterSettings(StrictModel):
    topic: str | None = Field(default=None, description="Default {prefix}._deadletter.{group_id} (core/topics.py).")


class BreakerSettings(StrictModel):
    """Per-target circuit breaker (target = the workflow URL's scheme://host:port)."""

    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1, le=10_000, description="Consecutive failures that open it.")
    reset_seconds: float = Field(default=30.0, gt=0, le=3600, description="Open this long before one probe.")


# The broker's defaults for group.min.session.timeout.ms and group.max.session.timeout.ms: a broker refuses a
# member whose session timeout is outside its range, so the consumer would never join.
BROKER_MIN_SESSION_MS = 6_000
BROKER_MAX_SESSION_MS = 1_800_000
DEFAULT_HEARTBEAT_MS = 3_000  # aiokafka's and Kafka's default


class GroupSettings(StrictModel):
    """How the consumer stays a member of its group (passed to aiokafka's group consumer; docs/consumers.md).

    A member that stops heartbeating (killed, frozen, cut off) keeps its partitions until
    ``session_timeout_ms`` has passed; then the group hands them to the other members.
    """

    session_timeout_ms: int = Field(
        default=10_000,
        description="A silent member keeps its partitions this long (6000..1800000, the broker's default range).",
        json_schema_extra={"minimum": BROKER_MIN_SESSION_MS, "maximum": BROKER_MAX_SESSION_MS},
    )
    heartbeat_interval_ms: int | None = Field(
        default=None,
        ge=100,
        description="Default min(3000, session_timeout_ms / 3); at most a third of session_timeout_ms.",
    )
    max_poll_interval_ms: int = Field(
        default=300_000,
        ge=1_000,
        le=2**31 - 1,
        description="The member leaves the group when its fetch loop has not polled for this long.",
    )
    start: str | None = Field(
        default=None,
        description="Where a group with no committed offsets starts: earliest, latest or an RFC 3339 time. "
        "Unset: a brand-new group refuses to start (docs/consumers.md).",
    )

    @field_validator("start")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        if value is not None:
            parse_start(value)
        return value

    def start_position(self) -> GroupStart | None:
        """``start`` parsed; None when unset."""
        return parse_start(self.start) if self.start is not None else None

    @field_validator("session_timeout_ms")
    @classmethod
    def _session_in_broker_range(cls, value: int) -> int:
        if not BROKER_MIN_SESSION_MS <= value <= BROKER_MAX_SESSION_MS:
            raise ValueError(
                f"must be between {BROKER_MIN_SESSION_MS} and {BROKER_MAX_SESSION_MS} ms: the broker's default "
                "group.min.session.timeout.ms and group.max.session.timeout.ms; a broker refuses a member outside "
                "its range (a broker configured otherwise has its own range)"
            )
        return value

    @field_validator("heartbeat_interval_ms")
    @classmethod
    def _heartbeat_below_session(cls, value: int | None, info: ValidationInfo) -> int | None:
        session = info.data.get("session_timeout_ms")  # absent when it failed its own check
        if value is not None and session is not None and value * 3 > session:
            raise ValueError(
                f"must be at most a third of session_timeout_ms ({session} ms, so at most {session // 3}): "
                "Kafka recommends it, so that a member survives a missed heartbeat or two"
            )
        return value

    def heartbeat_ms(self) -> int:
        """``heartbeat_interval_ms``, or its default: 3000 ms, or less when the session is short."""
        if self.heartbeat_interval_ms is not None:
            return self.heartbeat_interval_ms
        return min(DEFAULT_HEARTBEAT_MS, self.session_timeout_ms // 3)


class HttpSettings(StrictModel):
    """The HTTP actions' client: one pool of keep-alive connections per target (scheme://host:port)."""

    max_connections_per_target: int = Field(
        default=100, ge=1, le=10_000, description="Open connections to one target; more requests wait for one."
    )
    idle_seconds: float = Field(
        default=15.0, gt=0, le=3600, description="A connection idle this long is closed, not reused."
    )


class ConsumerSettings(StrictModel):
    group_id: str = Field(default="hookgate-workflows", pattern=r"^[a-zA-Z0-9._-]{1,200}$")
    topics: list[str] = Field(default_factory=list)
    topic_pattern: Regex | None = Field(default=None, description="Regex over topic names, e.g. ^hookgate\\.")
    listen: ListenSettings = Field(default_factory=ListenSettings)
    log_level: str = "info"
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)
    reload_interval_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Also reload workflows when the file changed (checked this often)"
    )
    max_in_flight: int = Field(
        default=1000, ge=1, le=1_000_000, description="Records read but not finished, in this process."
    )
    max_in_flight_per_partition: int = Field(
        default=250, ge=1, le=1_000_000, description="Records read but not finished, per partition."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Consumer processes in this group, supervised by this one (which then serves their ops routes)",
    )
    commit_interval_seconds: float = Field(default=1.0, gt=0, le=300)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    dead_letter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    group: GroupSettings = Field(default_factory=GroupSettings)

    http: HttpSettings = Field(default_factory=HttpSettings)

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

    def dead_letter_topic(self) -> str:
        """Where this group's dead letters go (``consumer.dead_letter.topic`` or the default name)."""
        s = self.consumer
        return dead_letter_topic(self.kafka.topics, s.group_id, s.dead_letter.topic)

    def dedupe_topic(self) -> str:
        """This group's dedupe changelog (``consumer.dedupe.topic`` or the default name)."""
        s = self.consumer
        return dedupe_topic(self.kafka.topics, s.group_id, s.dedupe.topic)

    def redrive_topic(self) -> str:
        """This group's re-drives (``hookgate replay --dead-letter``), read beside the sources."""
        return redrive_topic(self.kafka.topics, self.consumer.group_id)

    def dead_letter_state_topic(self) -> str:
        """This group's resolved dead letters (compacted)."""
        return dead_letter_state_topic(self.kafka.topics, self.consumer.group_id)

    def source_pattern(self) -> str | None:
        """The subscription regex: ``topic_pattern`` minus hookgate's internal topics (None with ``topics``)."""
        s = self.consumer
        if s.topic_pattern is None:
            return None
        return source_pattern(
            self.kafka.topics, s.topic_pattern.pattern, exclude=(self.dead_letter_topic(), self.dedupe_topic())
        )

    def subscription(self) -> tuple[list[str], str | None]:
        """What the group subscribes to: (topics, None) or ([], regex), the re-drive topic included either way."""
        redrive = self.redrive_topic()
        pattern = self.source_pattern()
        if pattern is None:
            return [*self.consumer.topics, redrive], None
        return [], f"^{re.escape(redrive)}$|{pattern}"
