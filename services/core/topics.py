"""Every topic name hookgate derives from its configuration, in one place.

- event topics: ``kafka.topics.template`` (default ``{prefix}.{tenant}``), or a trigger's own ``topic``;
- internal topics, all under ``{prefix}._`` so that a source pattern can leave them out:

  ==================  ==========================================================================
  dead letters        ``consumer.dead_letter.topic``, default ``{prefix}._deadletter.{group}``
  dedupe changelog    ``consumer.dedupe.topic``, default ``{prefix}._dedupe.{group}``
  re-drives           ``{prefix}._redrive.{group}`` (read by that group only, beside its sources)
  dead-letter state   ``{prefix}._deadletter_state.{group}`` (compacted: which dead letters are resolved)
  audit records       ``{prefix}._audit``
  trigger definitions ``{prefix}._triggers``
  ==================  ==========================================================================

The services, the CLI and the tests ask these functions; none spells a name itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Final

from hookgate.core.templates import Sources, Template

if TYPE_CHECKING:
    from hookgate.core.settings import TopicSettings

_TOPIC_CHARS = re.compile(r"[^a-zA-Z0-9._-]")


TOPIC_SOURCES: Final[Sources[tuple[str, str]]] = Sources(
    names={"prefix": itemgetter(0), "tenant": itemgetter(1)}, missing="error"
)
"""What ``kafka.topics.template`` may name: ``{prefix}`` and ``{tenant}`` (the one template language)."""


@lru_cache(maxsize=64)
def topic_template(text: str) -> Template[tuple[str, str]]:
    """``kafka.topics.template`` parsed; raises :class:`~hookgate.core.templates.TemplateError`."""
    return Template(text, TOPIC_SOURCES)


def event_topic(topics: TopicSettings, tenant: str) -> str:
    """The event topic of a tenant, per the template; characters Kafka rejects become ``_``."""
    return _TOPIC_CHARS.sub("_", topic_template(topics.template).render((topics.prefix, tenant)))


def internal_prefix(topics: TopicSettings) -> str:
    """What every internal topic's name starts with: ``{prefix}._``."""
    return f"{topics.prefix}._"


def _internal(topics: TopicSettings, name: str) -> str:
    return internal_prefix(topics) + name


def dead_letter_topic(topics: TopicSettings, group: str, configured: str | None = None) -> str:
    """Where consumer group ``group`` writes dead letters: ``configured`` when set, else the default name."""
    return configured or _internal(topics, f"deadletter.{group}")


def dedupe_topic(topics: TopicSettings, group: str, configured: str | None = None) -> str:
    """The dedupe changelog of consumer group ``group``: ``configured`` when set, else the default name."""
    return configured or _internal(topics, f"dedupe.{group}")


def redrive_topic(topics: TopicSettings, group: str) -> str:
    """Where ``hookgate replay --dead-letter`` sends consumer group ``group``'s re-drives: only that group
    subscribes to it, so no other group ever sees (or runs) them."""
    return _internal(topics, f"redrive.{group}")


def dead_letter_state_topic(topics: TopicSettings, group: str) -> str:
    """The compacted topic of consumer group ``group``'s resolved dead letters (key ``{workflow}:{event id}``)."""
    return _internal(topics, f"deadletter_state.{group}")


def audit_topic(topics: TopicSettings) -> str:
    """The gateway's audit records."""
    return _internal(topics, "audit")


def triggers_topic(topics: TopicSettings) -> str:
    """Trigger definitions (the gateway's compacted trigger store)."""
    return _internal(topics, "triggers")


def source_pattern(topics: TopicSettings, pattern: str, exclude: Iterable[str] = ()) -> str:
    """``pattern`` (a regex over topic names) minus the internal topics, which it could match too.

    ``exclude`` names more topics to leave out: a configured dead-letter or changelog topic need not
    start with ``{prefix}._``, and a consumer must never read its own dead letters as events.
    """
    internal = [re.escape(internal_prefix(topics)), *(re.escape(t) + "$" for t in exclude)]
    return f"(?!{'|'.join(internal)})(?:{pattern})"
