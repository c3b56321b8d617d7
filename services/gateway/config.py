"""The gateway's configuration file: listener, producer behaviour, Kafka, and the triggers."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from hookgate.core.config import StrictModel
from hookgate.core.settings import KafkaSettings
from hookgate.gateway.verify.registry import VerifyConfig

TRIGGER_ID = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
KEY_FIELDS = ("tenant", "trigger", "id", "type", "subject")


def _slug(v: str) -> str:
    if not SLUG.match(v):
        raise ValueError("expected lower-case letters, digits, '-' or '_' (1-63, starting alphanumeric)")
    return v


class ListenSettings(StrictModel):
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)


class ProducerSettings(StrictModel):
    """Producer tuning. The producer is always idempotent with acks=all; these trade latency for throughput."""

    linger_ms: int = Field(default=2, ge=0, le=1000)
    max_batch_bytes: int = Field(default=262_144, ge=1024)
    compression: str | None = None

    @field_validator("compression")
    @classmethod
    def _codec(cls, v: str | None) -> str | None:
        if v not in (None, "gzip", "snappy", "lz4", "zstd"):
            raise ValueError("expected one of gzip, snappy, lz4, zstd, or null")
        return v


class GatewaySettings(StrictModel):
    listen: ListenSettings = Field(default_factory=ListenSettings)
    max_body_bytes: int = Field(default=1_048_576, ge=1, le=64 * 1_048_576)
    publish_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Reply 503 if Kafka has not acknowledged by then"
    )
    retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)
    log_level: str = "info"
    trigger_labels: bool = Field(
        default=False, description="Label request metrics by trigger name (bounded by the config)"
    )
    producer: ProducerSettings = Field(default_factory=ProducerSettings)


class TriggerConfig(StrictModel):
    """One trigger URL: ``/hooks/{id}``."""

    id: str
    name: str
    tenant: str
    enabled: bool = True
    methods: list[str] = Field(default_factory=lambda: ["POST"], min_length=1)
    verify: VerifyConfig
    source: str | None = Field(default=None, description="CloudEvents source; default /hookgate/{name}")
    type: str = Field(default="dev.hookgate.webhook", description="CloudEvents type when the sender names none")
    key: str = Field(default="{tenant}", description="Record key template")
    topic: str | None = Field(default=None, description="Override the topic template for this trigger")
    max_body_bytes: int | None = Field(default=None, ge=1, le=64 * 1_048_576)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not TRIGGER_ID.match(v):
            raise ValueError(
                "trigger ids are 22-128 URL-safe characters (at least 128 random bits); run `hookgate gen-id` for one"
            )
        return v

    @field_validator("name", "tenant")
    @classmethod
    def _names(cls, v: str) -> str:
        return _slug(v)

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        allowed = {"GET", "POST", "PUT", "PATCH", "DELETE"}
        out = [m.upper() for m in v]
        bad = [m for m in out if m not in allowed]
        if bad:
            raise ValueError(f"unsupported method(s) {bad}; expected a subset of {sorted(allowed)}")
        return out

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        try:
            v.format(**dict.fromkeys(KEY_FIELDS, ""))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"key template may only use {{{'}, {'.join(KEY_FIELDS)}}} ({exc})") from None
        return v


class GatewayConfig(StrictModel):
    """The whole gateway config file."""

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    triggers: list[TriggerConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for attr in ("id", "name"):
            seen: set[str] = set()
            for i, t in enumerate(self.triggers):
                value = getattr(t, attr)
                if value in seen:
                    raise ValueError(f"triggers[{i}].{attr}: duplicate {attr}")
                seen.add(value)
        return self
