"""The trigger registry: compiled triggers, looked up by their unguessable id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from hookgate.core.jsonpath import text_of
from hookgate.core.settings import TopicSettings
from hookgate.gateway.config import ResponseConfig, TriggerConfig
from hookgate.gateway.shaping import eventid
from hookgate.gateway.shaping.bodies import BodyKind
from hookgate.gateway.shaping.encoding import BodyDecoder
from hookgate.gateway.shaping.eventid import EventIdSource
from hookgate.gateway.shaping.extract import Extractor
from hookgate.gateway.shaping.filter import IngressFilter
from hookgate.gateway.shaping.templates import Template, TemplateValues
from hookgate.gateway.verify.base import Verifier

_VALIDATED_BY_DEFAULT = frozenset((BodyKind.JSON, BodyKind.XML))


class KeyTemplate(Template):
    """The record key template (``key``); a key that renders empty is the event id.

    The default, ``{subject}``, is therefore "the entity the sender names, else the event id": a
    repository's, customer's or channel's events share a key (one partition, in order), and events with
    no subject spread over every partition. A redelivery renders the same key (the subject comes from
    the same body, the id is the sender's delivery id), so it lands on the partition that holds its
    dedupe state. ``key: "{tenant}"`` keeps a tenant's events in one partition, in order.
    """

    __slots__ = ()

    def render(self, ctx: TemplateValues, escape: Callable[[Any], str] = text_of) -> str:
        return super().render(ctx, escape) or ctx.builtins.get("id", "")


@dataclass(frozen=True, slots=True)
class AcceptReply:
    """The reply to an accepted request: a status and either a static body or ``{"id": ...}``."""

    status: int
    body: bytes | None
    content_type: str

    @classmethod
    def from_config(cls, cfg: ResponseConfig) -> AcceptReply:
        if cfg.body is None:
            return cls(cfg.status, None, cfg.content_type or "application/json")
        if isinstance(cfg.body, str):
            return cls(cfg.status, cfg.body.encode(), cfg.content_type or "text/plain; charset=utf-8")
        return cls(cfg.status, orjson.dumps(cfg.body), cfg.content_type or "application/json")

    def body_for(self, event_id: str) -> bytes:
        return self.body if self.body is not None else orjson.dumps({"id": event_id})


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger ready to serve: its config plus everything derived from it once."""

    config: TriggerConfig
    verifier: Verifier
    topic: str
    source: str
    max_body_bytes: int
    extractor: Extractor
    key_template: KeyTemplate
    type_template: Template | None
    subject_template: Template | None
    ingress_filter: IngressFilter | None
    reply: AcceptReply
    websub_token: str | None
    decoder: BodyDecoder | None = None  # None: an encoded body is refused (415)
    event_id: EventIdSource | None = None  # the configured id source; None: the delivery id, else a fresh one
    reads_body: bool = field(init=False)

    def __post_init__(self) -> None:
        # A body variable or a {$...} template placeholder needs the parsed body.
        reads = self.extractor.reads_body or any(t.reads_body for t in self.templates)
        reads = reads or (self.event_id is not None and self.event_id.reads_body)
        object.__setattr__(self, "reads_body", reads)

    @property
    def templates(self) -> list[Template]:
        return [t for t in (self.key_template, self.type_template, self.subject_template) if t is not None]

    def should_parse(self, kind: BodyKind) -> bool:
        """Whether a body of this kind is parsed: something reads it, or it is to be validated."""
        if kind is BodyKind.BINARY:
            return False
        if self.reads_body:
            return True
        validate = self.config.validate_body
        if validate is None:
            return not self.config.accept_raw and kind in _VALIDATED_BY_DEFAULT
        return validate

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def tenant(self) -> str:
        return self.config.tenant


class TriggerRegistry:
    """Maps trigger ids to :class:`Trigger`. Disabled triggers are absent, so they answer 404 like unknown ones.

    :meth:`replace` swaps in a new set at run time (runtime triggers, a YAML reload) in one assignment: a
    request looks its trigger up in the old dict or the new one, never in a half-built one. A trigger
    whose config did not change keeps its compiled :class:`Trigger` (and so its state, e.g. a verifier's
    cache).
    """

    def __init__(self, triggers: Iterable[TriggerConfig], topics: TopicSettings, default_max_body: int) -> None:
        self._topics = topics
        self._default_max_body = default_max_body
        self._by_id: dict[str, Trigger] = {cfg.id: self._compile(cfg) for cfg in triggers if cfg.enabled}

    def _compile(self, cfg: TriggerConfig) -> Trigger:
        max_body = cfg.max_body_bytes or self._default_max_body
        return Trigger(
            config=cfg,
            verifier=cfg.verify.build(),
            topic=self.topic_of(cfg),
            source=cfg.source or f"/hookgate/{cfg.name}",
            max_body_bytes=max_body,
            extractor=Extractor(cfg.variables),
            key_template=KeyTemplate(cfg.key),
            type_template=Template(cfg.event.type) if cfg.event.type is not None else None,
            subject_template=Template(cfg.event.subject) if cfg.event.subject is not None else None,
            ingress_filter=cfg.filter.build() if cfg.filter is not None else None,
            reply=AcceptReply.from_config(cfg.response),
            websub_token=_websub_token(cfg),
            decoder=BodyDecoder.from_config(cfg.decompress, max_body) if cfg.decompress is not None else None,
            event_id=eventid.build(cfg.event_id, cfg.tenant, cfg.name) if cfg.event_id is not None else None,
        )

    def topic_of(self, cfg: TriggerConfig) -> str:
        """The topic ``cfg`` writes to."""
        return cfg.topic or self._topics.topic_for(cfg.tenant)

    def replace(self, triggers: Iterable[TriggerConfig]) -> None:
        """Serve exactly ``triggers`` (the enabled ones) from now on; unchanged ones are reused."""
        current = self._by_id
        new: dict[str, Trigger] = {}
        for cfg in triggers:
            if not cfg.enabled:
                continue
            old = current.get(cfg.id)
            new[cfg.id] = old if old is not None and old.config == cfg else self._compile(cfg)
        self._by_id = new

    def get(self, trigger_id: str) -> Trigger | None:
        return self._by_id.get(trigger_id)

    def topics(self) -> list[str]:
        """Every topic a trigger writes to, each once."""
        return sorted({t.topic for t in self._by_id.values()})

    def __len__(self) -> int:
        return len(self._by_id)


def _websub_token(cfg: TriggerConfig) -> str | None:
    if cfg.websub is None or cfg.websub.verify_token is None:
        return None
    return cfg.websub.verify_token.get_secret_value()
