"""The gateway's configuration file: listener, producer behaviour, Kafka, and the triggers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from hookgate.admin.config import AdminSettings
from hookgate.core.config import Secret, StrictModel
from hookgate.core.settings import KafkaSettings
from hookgate.gateway.audit.record import AuditSettings
from hookgate.gateway.catalog.settings import CatalogSettings
from hookgate.gateway.http.tls import TlsSettings
from hookgate.gateway.intake.clientip import Cidr, ProxySettings
from hookgate.gateway.intake.limits import LimitSettings, RateLimit
from hookgate.gateway.shaping import eventid
from hookgate.gateway.shaping.encoding import DecompressConfig
from hookgate.gateway.shaping.eventid import EventIdConfig
from hookgate.gateway.shaping.extract import VARIABLE_NAME, VariableConfig
from hookgate.gateway.shaping.filter import FilterConfig
from hookgate.gateway.shaping.templates import Template
from hookgate.gateway.verify.registry import VerifyConfig

TRIGGER_ID = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_RESPONSE_BODY = 4096


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
    ops_listen: ListenSettings | None = Field(
        default=None,
        description="Serve /healthz, /readyz and /metrics on this address only, apart from the webhooks "
        "(a webhook flood then cannot starve probes and scrapes); null = on the webhook port",
    )
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
    limits: LimitSettings = Field(default_factory=LimitSettings)
    proxies: ProxySettings = Field(default_factory=ProxySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    tls: TlsSettings | None = Field(default=None, description="Terminate TLS (and mTLS) in the gateway itself")
    catalog: CatalogSettings = Field(
        default_factory=CatalogSettings, description="Runtime triggers, kept in the compacted {prefix}._triggers topic"
    )
    reload_interval_seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Also reload triggers: when the file changed (checked this often)"
    )
    admin: AdminSettings | None = Field(
        default=None, description="The admin API (runtime triggers, inspection, replay) on a port of its own; off"
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Gateway processes sharing listen.port (SO_REUSEPORT), supervised by this one, which serves "
        "/healthz, /readyz and /metrics for all of them on ops_listen (needed above 1)",
    )

    @model_validator(mode="after")
    def _ops_port_apart(self) -> Self:
        ops = self.ops_listen
        if ops is not None and ops.port != 0 and ops.port == self.listen.port:
            raise ValueError("ops_listen.port: must differ from listen.port (the ops listener is a port of its own)")
        admin = self.admin
        if admin is not None and admin.listen.port != 0:
            taken = {self.listen.port, *([ops.port] if ops is not None else [])}
            if admin.listen.port in taken:
                raise ValueError("admin.listen.port: must differ from listen.port and ops_listen.port")
        return self

    @model_validator(mode="after")
    def _workers_share_a_port(self) -> Self:
        if self.workers > 1 and self.ops_listen is None:
            raise ValueError(
                "workers: more than 1 needs ops_listen (the supervising process serves /healthz, /readyz and"
                " /metrics for all workers there; on the shared webhook port a scrape would reach one worker)"
            )
        if self.workers > 1 and self.listen.port == 0:
            raise ValueError("workers: more than 1 needs a fixed listen.port (with 0 each worker would get its own)")
        if self.workers > 1 and self.admin is not None:
            # Each worker would serve the admin API from its own view of the trigger topic: a trigger created
            # through one could be missing from the next call, answered by another, for a moment.
            raise ValueError(
                "workers: more than 1 cannot serve admin (run the admin API on a gateway with workers: 1, "
                "e.g. a Deployment of its own)"
            )
        return self


def _template(v: str) -> str:
    Template(v)  # parsed at load: a TemplateError is a ValueError, reported at its key path
    return v


TemplateText = Annotated[str, AfterValidator(_template)]
"""A gateway template (see :mod:`hookgate.gateway.shaping.templates`), checked at load."""


class EventTemplates(StrictModel):
    """Templates for the CloudEvents ``type`` and ``subject`` (see :mod:`hookgate.gateway.shaping.templates`).

    When unset, the verifier's event type (else the trigger's ``type``) and subject apply.
    """

    type: TemplateText | None = Field(
        default=None, description='e.g. "com.github.{header.X-GitHub-Event}.{vars.action}"'
    )
    subject: TemplateText | None = Field(default=None, description='e.g. "{vars.repository}"')


class ResponseConfig(StrictModel):
    """The reply to an accepted request. Default: ``202 {"id": "<event id>"}``."""

    status: int = Field(default=202, ge=200, le=299)
    body: str | dict[str, object] | None = Field(
        default=None, description='A static body: a string (text/plain) or a mapping (JSON); default {"id": ...}'
    )
    content_type: str | None = Field(default=None, description="Overrides the body's media type")

    @field_validator("body")
    @classmethod
    def _small(cls, v: str | dict[str, object] | None) -> str | dict[str, object] | None:
        size = len(v.encode()) if isinstance(v, str) else len(str(v)) if v is not None else 0
        if size > MAX_RESPONSE_BODY:
            raise ValueError(f"a static response body is at most {MAX_RESPONSE_BODY} bytes")
        return v


class WebSubConfig(StrictModel):
    """Answer WebSub intent verification (``GET ?hub.mode=subscribe&hub.challenge=...``)."""

    verify_token: Secret | None = Field(default=None, description="hub.verify_token the hub must present")


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
    key: TemplateText = Field(
        default="{subject}",
        description='Record key template; one that renders empty is the event id. "{tenant}": strict per-tenant order',
    )
    event_id: EventIdConfig | None = Field(
        default=None,
        description='Event id source: a template ("{header.Idempotency-Key}") or content_hash; wins over the'
        " sender's delivery id when it gives a value",
    )
    topic: str | None = Field(default=None, description="Override the topic template for this trigger")
    max_body_bytes: int | None = Field(default=None, ge=1, le=64 * 1_048_576)
    decompress: DecompressConfig | None = Field(
        default=None, description="Decode these Content-Encodings (bounded); without it an encoded body gets 415"
    )
    rate_limit: RateLimit | None = Field(default=None, description="Token bucket for this trigger (per replica)")
    allow_ips: list[Cidr] | None = Field(default=None, description="Client addresses allowed (CIDRs); others get 401")
    client_cert_subjects: list[str] | None = Field(
        default=None, description="TLS client certificate CN/SAN names allowed (needs gateway.tls.client_ca)"
    )
    accept_raw: bool = Field(
        default=False, description="Accept bodies that do not parse as their media type (body variables stay unset)"
    )
    validate_body: bool | None = Field(
        default=None, description="Reject bodies that do not parse (400); default true for JSON and XML"
    )
    variables: dict[str, VariableConfig] = Field(default_factory=dict, description="Values extracted per request")
    event: EventTemplates = Field(default_factory=EventTemplates)
    filter: FilterConfig | None = Field(default=None, description="Requests that do not pass are ignored (200)")
    response: ResponseConfig = Field(default_factory=ResponseConfig)
    websub: WebSubConfig | None = None
    allow_subpaths: bool = Field(default=False, description="Also serve /hooks/{id}/any/path (see path variables)")

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

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, v: dict[str, VariableConfig]) -> dict[str, VariableConfig]:
        bad = [name for name in v if not VARIABLE_NAME.match(name)]
        if bad:
            raise ValueError(f"variable names are letters, digits and '_' (not starting with a digit): {bad}")
        return v

    @model_validator(mode="after")
    def _declared_variables(self) -> Self:
        """Templates and filter conditions may only use variables the trigger declares."""
        if self.accept_raw and self.validate_body:
            raise ValueError("accept_raw: true and validate_body: true contradict each other; keep one")
        used: dict[str, set[str]] = {"key": Template(self.key).variables}
        if self.event_id is not None:
            used["event_id"] = eventid.build(self.event_id, self.tenant, self.name).variables
        for attr in ("type", "subject"):
            source = getattr(self.event, attr)
            if source is not None:
                used[f"event.{attr}"] = Template(source).variables
        if self.filter is not None:
            for i, cond in enumerate(self.filter.conditions):
                used[f"filter.conditions[{i}]"] = cond.variables
        for where, names in used.items():
            missing = sorted(names - self.variables.keys())
            if missing:
                raise ValueError(f"{where}: variable(s) {missing} not declared under variables")
        return self


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A valid setting the gateway warns about when it starts (one log line each)."""

    event: str
    trigger: str
    key: str  # the key path, as in config errors
    message: str


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

    def startup_warnings(self) -> list[ConfigWarning]:
        """What the gateway warns about at start-up: e.g. a trigger whose replay window is switched off."""
        return [
            ConfigWarning(w.event, trigger=t.name, key=f"triggers[{i}].verify.{w.key}", message=w.message)
            for i, t in enumerate(self.triggers)
            for w in t.verify.startup_warnings()
        ]

    @model_validator(mode="after")
    def _client_certs_need_mtls(self) -> Self:
        tls = self.gateway.tls
        for i, t in enumerate(self.triggers):
            if t.client_cert_subjects and (tls is None or tls.client_ca is None):
                raise ValueError(
                    f"triggers[{i}].client_cert_subjects: needs gateway.tls.client_ca (the gateway terminating mTLS)"
                )
        return self
