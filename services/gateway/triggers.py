"""The trigger registry: compiled triggers, looked up by their unguessable id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hookgate.core.settings import TopicSettings
from hookgate.gateway.config import TriggerConfig
from hookgate.gateway.verify.base import Verifier


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger ready to serve: its config plus everything derived from it once."""

    config: TriggerConfig
    verifier: Verifier
    topic: str
    source: str
    max_body_bytes: int

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def tenant(self) -> str:
        return self.config.tenant


class TriggerRegistry:
    """Maps trigger ids to :class:`Trigger`. Disabled triggers are absent, so they answer 404 like unknown ones."""

    def __init__(self, triggers: Iterable[TriggerConfig], topics: TopicSettings, default_max_body: int) -> None:
        self._by_id: dict[str, Trigger] = {}
        for cfg in triggers:
            if not cfg.enabled:
                continue
            self._by_id[cfg.id] = Trigger(
                config=cfg,
                verifier=cfg.verify.build(),
                topic=cfg.topic or topics.topic_for(cfg.tenant),
                source=cfg.source or f"/hookgate/{cfg.name}",
                max_body_bytes=cfg.max_body_bytes or default_max_body,
            )

    def get(self, trigger_id: str) -> Trigger | None:
        return self._by_id.get(trigger_id)

    def topics(self) -> list[str]:
        """Every topic a trigger writes to, each once."""
        return sorted({t.topic for t in self._by_id.values()})

    def __len__(self) -> int:
        return len(self._by_id)
