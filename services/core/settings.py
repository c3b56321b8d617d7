"""Settings both services share: how to reach Kafka and how topics are named and created."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from hookgate.core.config import Secret, StrictModel
from hookgate.core.topics import event_topic, topic_template


class TopicSettings(StrictModel):
    """How event topics are named and created. hookgate creates its topics itself (never broker auto-create)."""

    prefix: str = "hookgate"
    template: str = "{prefix}.{tenant}"
    partitions: int = Field(default=6, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=16)
    config: dict[str, str] = Field(default_factory=dict)

    @field_validator("template")
    @classmethod
    def _template_fields(cls, v: str) -> str:
        topic_template(v)  # a TemplateError (a ValueError) names the placeholder and the sources
        return v

    def topic_for(self, tenant: str) -> str:
        """The event topic of a tenant (named by :func:`hookgate.core.topics.event_topic`)."""
        return event_topic(self, tenant)


class KafkaSettings(StrictModel):
    """Connection settings. ``KAFKA_BOOTSTRAP_SERVERS`` in the environment wins over the file."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "hookgate"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    create_topics: bool = Field(
        default=True, description="Create missing topics; false where topics are managed elsewhere (they must exist)"
    )
    topics: TopicSettings = Field(default_factory=TopicSettings)

    def effective_bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or self.bootstrap_servers
